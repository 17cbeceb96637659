"""Consumers of notify's escalation events: keep the open escalations of each rollout, which
the dashboard shows. Cases about no rollout are not kept."""

from __future__ import annotations

from services.rollout.repository import escalations
from services.rollout.repository.escalations import CaseChange, CaseStatus
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import (
    EscalationAcknowledged,
    EscalationClosed,
    EscalationEscalated,
    EscalationOpened,
)

Case = EscalationOpened | EscalationEscalated | EscalationAcknowledged | EscalationClosed


async def _apply(
    conn: Conn,
    case: Case,
    status: CaseStatus,
    *,
    level: int = 0,
    reason: str = "",
    targets: tuple[str, ...] = (),
    actor: str | None = None,
) -> None:
    if case.rollout_id is None:
        return
    change = CaseChange(
        case_id=case.case_id,
        rollout_id=case.rollout_id,
        feedback_id=case.feedback_id,
        policy=case.policy,
        status=status,
        at=case.at,
        level=level,
        reason=reason,
        targets=targets,
        actor=actor,
    )
    await escalations.apply(conn, change)


async def on_opened(conn: Conn, event: CloudEvent[EscalationOpened]) -> None:
    case = event.data
    await _apply(
        conn, case, "open", level=case.level, reason=case.reason, targets=tuple(case.targets)
    )


async def on_escalated(conn: Conn, event: CloudEvent[EscalationEscalated]) -> None:
    case = event.data
    await _apply(conn, case, "open", level=case.level, targets=tuple(case.targets))


async def on_acknowledged(conn: Conn, event: CloudEvent[EscalationAcknowledged]) -> None:
    await _apply(conn, event.data, "acknowledged", actor=event.data.actor)


async def on_closed(conn: Conn, event: CloudEvent[EscalationClosed]) -> None:
    await _apply(conn, event.data, "closed", actor=event.data.actor, reason=event.data.reason)
