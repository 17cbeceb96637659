"""HTTP responses about rollouts: the rollout itself, command answers and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.rollout.domain.lifecycle import Rollout, Status
from services.rollout.domain.outcomes import Outcome
from services.rollout.domain.plan import Plan
from services.rollout.handlers.views import Result
from services.rollout.schemas.gate import GateOut, RequestOut


class PauseOut(BaseModel):
    cause: Literal["manual", "guardrail", "rollback"]
    reason: str
    actor: str
    at: datetime
    guardrail: str | None


class RolloutOut(BaseModel):
    rollout_id: str
    name: str
    description: str
    system: str
    owner_id: str
    status: Status
    stage: int | None = Field(description="current stage; null before the start")
    stage_name: str | None
    stage_started_at: datetime | None
    gate_outcome: Outcome | None = Field(description="as last evaluated; GET .../gate for now")
    gate_evaluated_at: datetime | None
    pause: PauseOut | None
    advance_request: RequestOut | None = Field(description="an advance waiting for approvals")
    stalled: bool
    stalled_at: datetime | None = Field(description="when the current stage counts as stalled")
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    plan: Plan

    @classmethod
    def of(cls, rollout: Rollout, now: datetime) -> RolloutOut:
        rule = rollout.stage_rule
        stalled_at = rollout.stalled_at()
        pause, request = rollout.pause, rollout.request
        return cls(
            rollout_id=rollout.rollout_id,
            name=rollout.name,
            description=rollout.description,
            system=rollout.system,
            owner_id=rollout.owner_id,
            status=rollout.status,
            stage=rollout.stage,
            stage_name=None if rule is None else rule.name,
            stage_started_at=rollout.started_at,
            gate_outcome=rollout.gate_outcome,
            gate_evaluated_at=rollout.gate_evaluated_at,
            pause=None if pause is None else PauseOut.model_validate(pause, from_attributes=True),
            advance_request=None
            if request is None
            else RequestOut(requested_by=request.requested_by, at=request.at),
            stalled=stalled_at is not None and now >= stalled_at,
            stalled_at=stalled_at,
            created_by=rollout.created_by,
            created_at=rollout.created_at,
            updated_at=rollout.updated_at,
            completed_at=rollout.completed_at,
            plan=rollout.plan,
        )


class RolloutList(BaseModel):
    items: list[RolloutOut]
    next_offset: int | None


class CommandOut(BaseModel):
    result: Result
    rollout: RolloutOut
    gate: GateOut | None = Field(default=None, description="the evidence the command acted on")


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    kind: str = Field(description="created, stage_advanced, gate_changed, paused, ...")
    actor: str = Field(description="staff id, or 'auto'")
    stage: int | None
    reason: str
    evidence: dict[str, Any] | None
    data: dict[str, Any]
    event_id: str | None = Field(description="the rollout.* event published, if any")


class Timeline(BaseModel):
    items: list[TimelineEntry]
    next_after: int | None = Field(description="pass as ?after= for the next page")
