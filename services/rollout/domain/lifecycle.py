"""What a rollout in a given state lets an admin or approver do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.rollout.domain.outcomes import Outcome
from services.rollout.domain.plan import Plan, StageRule

Status = Literal["planned", "running", "paused", "completed"]
Command = Literal["start", "advance", "approve", "pause", "resume", "rollback"]

_ALLOWED: dict[Command, frozenset[Status]] = {
    "start": frozenset({"planned"}),
    "advance": frozenset({"running"}),
    "approve": frozenset({"running", "paused"}),
    "pause": frozenset({"running"}),
    "resume": frozenset({"paused"}),
    "rollback": frozenset({"running", "paused"}),
}

_WHY: dict[Status, str] = {
    "planned": "the rollout has not started",
    "running": "the rollout is running",
    "paused": "the rollout is paused",
    "completed": "the rollout is completed",
}

_HINT: dict[tuple[Command, Status], str] = {
    ("advance", "planned"): "start it first",
    ("advance", "paused"): "resume it first",
    ("start", "running"): "it has already started",
    ("start", "paused"): "it has already started",
    ("resume", "running"): "it is not paused",
    ("rollback", "planned"): "there is nothing to roll back",
}


def refusal(command: Command, status: Status) -> str | None:
    """Why ``command`` cannot run in ``status``, or None when it can."""
    if status in _ALLOWED[command]:
        return None
    hint = _HINT.get((command, status))
    return f"cannot {command}: {_WHY[status]}" + (f"; {hint}" if hint else "")


def stale(expected: int, current: int | None) -> str | None:
    """Optimistic concurrency: the caller's view of the stage must still be true."""
    if expected == current:
        return None
    where = "not started" if current is None else f"at stage {current}"
    return f"expected stage {expected}, but the rollout is {where}"


def stalled_at(rule: StageRule, started_at: datetime) -> datetime:
    """When a stage that has not moved on counts as stalled: ``stall_after`` past its soak."""
    return started_at + rule.min_soak + rule.stall_after


PauseCause = Literal["manual", "guardrail", "rollback"]


@dataclass(frozen=True, slots=True)
class Pause:
    cause: PauseCause
    reason: str
    actor: str
    at: datetime
    guardrail: str | None = None


@dataclass(frozen=True, slots=True)
class AdvanceRequest:
    """An admin asked to advance and the gate needs approvals first."""

    requested_by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Rollout:
    rollout_id: str
    name: str
    description: str
    system: str
    owner_id: str
    plan: Plan
    status: Status
    stage: int | None
    epoch: int
    started_at: datetime | None
    gate_outcome: Outcome | None
    gate_evaluated_at: datetime | None
    pause: Pause | None
    guardrail_ack: Mapping[str, float]
    request: AdvanceRequest | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @property
    def stage_rule(self) -> StageRule | None:
        return self.plan.stage(self.stage)

    @property
    def next_index(self) -> int | None:
        """The stage an advance would enter; None when it would complete the rollout."""
        following = 0 if self.stage is None else self.stage + 1
        return following if following < len(self.plan.stages) else None

    def stalled_at(self) -> datetime | None:
        rule = self.stage_rule
        if self.status not in ("running", "paused") or rule is None or self.started_at is None:
            return None
        return stalled_at(rule, self.started_at)
