"""HTTP request and response models of the feedback API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["survey", "issue", "comment"]
Severity = Literal["low", "medium", "high", "critical"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout_id: str = Field(min_length=1, max_length=100)
    kind: Kind
    csat: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)
    severity: Severity | None = None
    category: str | None = Field(default=None, max_length=100)
    text: str | None = Field(default=None, max_length=4000)
    anonymous: bool = False

    @model_validator(mode="after")
    def _kind_fields(self) -> FeedbackIn:
        if self.kind == "survey" and self.csat is None and self.nps is None:
            raise ValueError("a survey answer needs csat and/or nps")
        if self.kind == "issue" and (self.severity is None or not self.text):
            raise ValueError("an issue needs a severity and a text")
        if self.kind != "issue" and self.severity is not None:
            raise ValueError("only issues have a severity")
        if self.kind == "comment" and not self.text:
            raise ValueError("a comment needs a text")
        return self


class FeedbackOut(BaseModel):
    feedback_id: UUID
    rollout_id: str
    kind: Kind
    csat: int | None
    nps: int | None
    severity: Severity | None
    category: str | None
    text: str | None
    anonymous: bool
    staff_id: str | None
    department_id: str | None
    status: str
    submitted_at: datetime
