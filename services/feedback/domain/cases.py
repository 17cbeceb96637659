"""The lifecycle of an issue: ``open → acknowledged → resolved``, with SLA timestamps.

Resolving an open issue acknowledges it at the same moment, the way service desks treat a
ticket closed at first touch; both transitions are reported, so consumers see the full lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from services.feedback.domain.submission import Kind, Severity

Status = Literal["open", "acknowledged", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "resolved")


class IllegalTransition(Exception):
    """The case is not in a state that allows the requested change."""


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """How long, by severity, an issue may wait for acknowledgement and for resolution."""

    acknowledge: Mapping[Severity, timedelta]
    resolve: Mapping[Severity, timedelta]


@dataclass(frozen=True, slots=True)
class Case:
    status: Status
    ack_due_at: datetime
    resolve_due_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True, slots=True)
class Acknowledged:
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Resolved:
    actor: str
    resolution: str
    at: datetime


Transition = Acknowledged | Resolved


@dataclass(frozen=True, slots=True)
class Change:
    """The case after a command, and the transitions it went through (in order)."""

    case: Case
    transitions: tuple[Transition, ...]


def open_case(severity: Severity, submitted_at: datetime, sla: SlaTargets) -> Case:
    return Case(
        status="open",
        ack_due_at=submitted_at + sla.acknowledge[severity],
        resolve_due_at=submitted_at + sla.resolve[severity],
    )


def require_issue(kind: Kind) -> None:
    if kind != "issue":
        raise IllegalTransition("only issues are acknowledged and resolved")


def acknowledge(case: Case, actor: str, at: datetime) -> Change:
    if case.status != "open":
        raise IllegalTransition(f"the issue is already {case.status}")
    acknowledged = replace(case, status="acknowledged", acknowledged_at=at, acknowledged_by=actor)
    return Change(acknowledged, (Acknowledged(actor, at),))


def resolve(case: Case, actor: str, resolution: str, at: datetime) -> Change:
    if case.status == "resolved":
        raise IllegalTransition("the issue is already resolved")
    resolution = resolution.strip()
    if not resolution:
        raise ValueError("a resolution needs a text")
    before: tuple[Transition, ...] = ()
    if case.status == "open":
        acknowledged = acknowledge(case, actor, at)
        case, before = acknowledged.case, acknowledged.transitions
    resolved = replace(
        case, status="resolved", resolved_at=at, resolved_by=actor, resolution=resolution
    )
    return Change(resolved, (*before, Resolved(actor, resolution, at)))


def acknowledge_breached(case: Case, now: datetime) -> bool:
    """Acknowledged late, or still waiting past its due time."""
    return (case.acknowledged_at or now) > case.ack_due_at


def resolve_breached(case: Case, now: datetime) -> bool:
    return (case.resolved_at or now) > case.resolve_due_at
