"""HTTP models of the rollout API: ``requests`` (bodies), ``rollouts`` (rollouts, command
answers, the timeline) and ``gate`` (the gate report)."""

from services.rollout.schemas.gate import GateOut
from services.rollout.schemas.requests import (
    AdvanceIn,
    ApprovalIn,
    PauseIn,
    ResumeIn,
    RollbackIn,
    RolloutIn,
    StartIn,
)
from services.rollout.schemas.rollouts import (
    CommandOut,
    RolloutList,
    RolloutOut,
    Timeline,
    TimelineEntry,
)

__all__ = [
    "AdvanceIn",
    "ApprovalIn",
    "CommandOut",
    "GateOut",
    "PauseIn",
    "ResumeIn",
    "RollbackIn",
    "RolloutIn",
    "RolloutList",
    "RolloutOut",
    "StartIn",
    "Timeline",
    "TimelineEntry",
]
