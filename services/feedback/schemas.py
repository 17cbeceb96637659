"""HTTP request and response models of the feedback API."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.feedback.domain.cases import Status
from services.feedback.domain.submission import (
    MAX_CATEGORY,
    MAX_TEXT,
    Content,
    Kind,
    Severity,
    normalize,
    problems,
)
from services.feedback.repository import Filters, Period, Position

# Ids as the event contract bounds them (1 to 200 characters), without control characters.
Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class FeedbackIn(BaseModel):
    """One survey answer, issue or comment. Strict: no coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rollout_id: Id
    kind: Kind
    csat: int | None = Field(default=None, ge=1, le=5, description="survey answers: 1 to 5")
    nps: int | None = Field(default=None, ge=0, le=10, description="survey answers: 0 to 10")
    severity: Severity | None = Field(default=None, description="issues only, and required")
    category: str | None = Field(default=None, max_length=MAX_CATEGORY)
    text: str | None = Field(
        default=None, max_length=MAX_TEXT, description="required for issues and comments"
    )
    anonymous: bool = Field(default=False, description="store and publish no staff id")

    def content(self) -> Content:
        return normalize(
            Content(self.kind, self.csat, self.nps, self.severity, self.category, self.text or "")
        )

    @model_validator(mode="after")
    def _follows_the_rules(self) -> Self:
        found = problems(self.content())  # the same rules as the survey-tool intake
        if found:
            raise PydanticCustomError(found[0].code, found[0].message)
        return self


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    resolution: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
    ]


class FeedbackOut(BaseModel):
    feedback_id: uuid.UUID
    rollout_id: str
    kind: Kind
    csat: int | None
    nps: int | None
    severity: Severity | None
    category: str | None
    text: str
    anonymous: bool
    staff_id: str | None = Field(description="null for anonymous feedback")
    department_id: str | None
    channel: Literal["http", "intake"]
    submitted_at: datetime
    # A flag, not the id of the newer answer: that id would tie a named answer to the same
    # person's later anonymous one.
    superseded: bool = Field(
        description="survey answers: the respondent answered again later; the newer answer counts"
    )
    status: Status | None = Field(description="issues only")
    ack_due_at: datetime | None
    resolve_due_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(default=None, description="submitted at or after")
    until: AwareDatetime | None = Field(default=None, description="submitted before")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.since and self.until and self.since >= self.until:
            raise PydanticCustomError("empty_period", "since must be before until")
        return self

    def period(self) -> Period:
        return Period(self.since, self.until)


class FeedbackQuery(PeriodQuery):
    rollout_id: Id | None = None
    kind: Kind | None = None
    status: Status | None = None
    severity: Severity | None = None
    department_id: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)

    def filters(self) -> Filters:
        return Filters(
            self.rollout_id,
            self.kind,
            self.status,
            self.severity,
            self.department_id,
            self.period(),
        )


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.submitted_at.isoformat(), str(position.feedback_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> Position:
    """ValueError for anything that :func:`encode_cursor` did not make."""
    try:
        submitted_at, feedback_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        position = Position(datetime.fromisoformat(submitted_at), uuid.UUID(feedback_id))
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise ValueError("not a cursor of this listing") from exc
    if position.submitted_at.tzinfo is None:
        raise ValueError("not a cursor of this listing")
    return position


# --- GET /v1/rollouts/{rollout_id}/feedback-summary ---------------------------------------------


class SatisfactionOut(BaseModel):
    responses: int
    distribution: dict[int, int] = Field(description="answers per CSAT score, 1 to 5")
    satisfied: int = Field(description="CSAT 4 or 5")
    satisfied_share: float | None
    mean: float | None


class NpsOut(BaseModel):
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: float | None = Field(description="percent promoters minus percent detractors")


class IssueStatsOut(BaseModel):
    total: int
    by_status: dict[Status, int]
    open_by_severity: dict[Severity, int] = Field(description="not resolved yet")
    median_seconds_to_acknowledge: float | None
    median_seconds_to_resolve: float | None
    acknowledge_sla_breaches: int
    resolve_sla_breaches: int


class DepartmentOut(BaseModel):
    department_id: str | None = Field(description="null: department unknown")
    name: str | None
    respondents: int
    csat: SatisfactionOut
    nps: NpsOut
    issues: int
    open_issues: int
    comments: int


class HiddenOut(BaseModel):
    departments: int
    respondents: int


class SummaryOut(BaseModel):
    rollout_id: str
    name: str | None
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    min_group_size: int = Field(description="departments with fewer respondents are hidden")
    answers: int = Field(description="survey answers, replaced ones included")
    respondents: int = Field(description="survey respondents; the latest answer of each counts")
    csat: SatisfactionOut
    nps: NpsOut
    issues: IssueStatsOut
    comments: int
    departments: list[DepartmentOut]
    hidden: HiddenOut
