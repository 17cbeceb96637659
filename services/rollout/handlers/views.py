"""What reads return: values the routes format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.rollout.domain.advance import Verdict
from services.rollout.domain.approvals import Tally
from services.rollout.domain.evidence import Snapshot
from services.rollout.domain.gate import GateReport
from services.rollout.domain.guardrails import Breach
from services.rollout.domain.lifecycle import Rollout


@dataclass(frozen=True, slots=True)
class GateView:
    """A gate evaluation and what an advance requested now would do."""

    rollout: Rollout
    snapshot: Snapshot
    report: GateReport
    votes: Tally
    verdict: Verdict
    breaches: tuple[Breach, ...] = ()


Result = Literal[
    "started",
    "advanced",
    "completed",
    "awaiting_approval",
    "recorded",
    "paused",
    "resumed",
    "rolled_back",
]


@dataclass(frozen=True, slots=True)
class CommandResult:
    result: Result
    rollout: Rollout
    view: GateView | None = None
