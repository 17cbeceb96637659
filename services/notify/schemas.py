"""HTTP models of the notify API (preferences are also stored in this form)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.notify.domain import escalation, preferences
from services.notify.domain.escalation import Condition
from services.notify.domain.preferences import ExternalChannel
from services.notify.domain.targets import check as check_target

ChatChannel = Literal["slack", "teams", "dingtalk", "wecom", "feishu"]

# --- inbox --------------------------------------------------------------------------------


class NotificationOut(BaseModel):
    notification_id: UUID
    template: str
    source_event_id: str
    source_event_type: str
    rollout_id: str | None
    case_id: UUID | None
    locale: str
    subject: str
    body: str
    data: dict[str, Any]
    priority: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page")
    unread: int = Field(description="unread notifications in the whole inbox")


class MarkedRead(BaseModel):
    marked: int


# --- preferences --------------------------------------------------------------------------


def _zone(name: str | None) -> str | None:
    if name is not None and not preferences.is_valid_zone(name):
        raise ValueError("not an IANA time zone (e.g. Europe/Berlin, Asia/Shanghai)")
    return name


class QuietHoursDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="local time the window starts, e.g. 22:00")
    end: time = Field(description="local time it ends, e.g. 07:00 (may be the next day)")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursDoc:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at different times")
        return self


class DigestDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    at: time = Field(default=time(8, 0), description="local time of the daily digest")


class PreferencesDoc(BaseModel):
    """A person's notification preferences. Channels left out keep their default (email on,
    chat off); the in-app inbox is always on."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[ExternalChannel, bool] = {}
    webhooks: dict[ChatChannel, Annotated[str, Field(min_length=8, max_length=2000)]] = {}
    quiet_hours: QuietHoursDoc | None = None
    digest: DigestDoc = DigestDoc()
    timezone: Annotated[str | None, AfterValidator(_zone)] = Field(
        default=None, max_length=64, description="overrides the directory's time zone"
    )
    locale: str | None = Field(
        default=None,
        max_length=35,
        pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$",
        description="overrides the directory's locale (BCP 47, e.g. zh-CN)",
    )

    @model_validator(mode="after")
    def _chat_needs_url(self) -> PreferencesDoc:
        missing = [c for c, on in self.channels.items() if on and c != "email"]
        missing = [c for c in missing if c not in self.webhooks]
        if missing:
            raise ValueError(f"turning on {', '.join(missing)} needs a webhook URL for it")
        return self

    def enabled(self) -> frozenset[ExternalChannel]:
        defaults = preferences.DEFAULT.channels
        return frozenset(
            c for c in preferences.EXTERNAL_CHANNELS if self.channels.get(c, c in defaults)
        )

    def to_domain(self) -> preferences.Preferences:
        quiet = self.quiet_hours
        return preferences.Preferences(
            channels=self.enabled(),
            webhooks={str(channel): url for channel, url in self.webhooks.items()},
            quiet_hours=preferences.QuietHours(quiet.start, quiet.end) if quiet else None,
            digest=self.digest.enabled,
            digest_at=self.digest.at,
            timezone=self.timezone,
            locale=self.locale,
        )


class PreferencesOut(PreferencesDoc):
    effective_channels: list[str] = Field(description="inbox plus the external channels on")
    updated_at: datetime | None


# --- escalation policies ------------------------------------------------------------------

Delay = Annotated[timedelta, Field(ge=timedelta(0), le=timedelta(days=30))]


class LevelDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay: Delay = Field(description="from the loop's start; ISO 8601 (PT30M) or seconds")
    condition: Condition = "if_not_acked"
    targets: list[Annotated[str, AfterValidator(check_target)]] = Field(min_length=1, max_length=20)


class RepeatDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    times: int = Field(ge=0, le=escalation.MAX_REPEATS)
    after: Delay = Field(description="pause after the last level before starting again")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=500)
    levels: list[LevelDoc] = Field(min_length=1, max_length=escalation.MAX_LEVELS)
    repeat: RepeatDoc | None = None

    def to_domain(self, name: str) -> escalation.Policy:
        return escalation.Policy(
            name,
            tuple(
                escalation.Level(lv.delay, lv.condition, tuple(lv.targets)) for lv in self.levels
            ),
            None
            if self.repeat is None
            else escalation.Repeat(self.repeat.times, self.repeat.after),
            self.description,
        )

    @classmethod
    def from_domain(cls, policy: escalation.Policy) -> dict[str, Any]:
        return {
            "description": policy.description,
            "levels": [
                {"delay": lv.delay, "condition": lv.condition, "targets": list(lv.targets)}
                for lv in policy.levels
            ],
            "repeat": None
            if policy.repeat is None
            else {"times": policy.repeat.times, "after": policy.repeat.after},
        }


class PolicyOut(PolicyIn):
    name: str
    version: int = Field(description="0 for the built-in default, then 1, 2, ... per change")
    is_default: bool
    updated_at: datetime | None
    updated_by: str | None


# --- escalation cases ---------------------------------------------------------------------


class CaseOut(BaseModel):
    case_id: UUID
    kind: str
    policy_name: str
    status: str
    reason: str
    rollout_id: str | None
    stage_index: int | None
    feedback_id: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    next_loop: int | None
    next_level: int | None
    next_due_at: datetime | None


class CaseLogOut(BaseModel):
    at: datetime
    action: str
    loop: int | None
    level: int | None
    due_at: datetime | None
    targets: list[str]
    recipients: list[str]
    unresolved: list[str]
    actor: str | None
    detail: str


class CaseDetail(CaseOut):
    log: list[CaseLogOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
