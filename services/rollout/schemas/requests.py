"""HTTP request bodies of the rollout API."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.rollout.domain.plan import Id, Name, Plan

RolloutId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", max_length=100)
]
Text = Annotated[str, StringConstraints(max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
MIN_OVERRIDE_REASON = 10


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RolloutIn(Plan):
    """A plan and who owns it. The id is the one staff and survey tools quote in feedback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rollout_id: RolloutId | None = Field(default=None, description="generated when omitted")
    name: Name
    description: Text = ""
    system: Annotated[str, StringConstraints(max_length=200)] = Field(
        default="", description="the IT system being rolled out"
    )
    owner_id: Id | None = Field(default=None, description="staff id; the caller when omitted")

    def plan(self) -> Plan:
        return Plan(stages=self.stages, start_gate=self.start_gate)


class _Overridable(_Command):
    override: bool = Field(
        default=False, description="advance whatever the gate says; needs a written reason"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None

    @model_validator(mode="after")
    def _reason_goes_with_override(self) -> Self:
        if self.override and len(self.reason or "") < MIN_OVERRIDE_REASON:
            raise ValueError(f"an override needs a reason of at least {MIN_OVERRIDE_REASON} chars")
        if not self.override and self.reason:
            raise ValueError("a reason goes with override: true")
        return self

    @property
    def override_reason(self) -> str | None:
        return self.reason if self.override else None


class StartIn(_Overridable):
    pass


class AdvanceIn(_Overridable):
    expected_stage: Annotated[int, Field(ge=0, description="the stage you are leaving")]


class ApprovalIn(_Command):
    expected_stage: Annotated[int, Field(ge=0, description="the stage the vote lets it leave")]
    decision: Literal["approve", "reject"] = "approve"
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""

    @model_validator(mode="after")
    def _rejection_says_why(self) -> Self:
        if self.decision == "reject" and not self.comment:
            raise ValueError("a rejection needs a comment saying why")
        return self


class PauseIn(_Command):
    reason: Reason


class ResumeIn(_Command):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""


class RollbackIn(_Command):
    expected_stage: Annotated[int, Field(ge=0, description="the stage to roll back")]
    reason: Reason
