"""Acknowledging and closing escalation cases, from domain events or the API.

The scheduler holds a case's timer row while it fires (lock order: timer, then case), so these
cancel the timer first, then lock the case, then set the timer from the case's new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.notify import metrics
from services.notify.domain import escalation
from services.notify.handlers import events
from services.notify.handlers.cases import ESCALATION_TIMER, event_fields, move
from services.notify.repository import cases
from services.notify.repository.cases import Case, LogEntry
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn


async def _lock(conn: Conn, case_id: UUID) -> Case | None:
    await scheduler.cancel(conn, ESCALATION_TIMER, str(case_id))  # timer first: lock order
    case = await cases.lock_case(conn, case_id)
    if case is not None:
        await move(conn, case, case.next_step)  # as it was, until the caller changes it
    return case


async def acknowledge(
    conn: Conn, deps: Deps, case_id: UUID, *, actor: str, at: datetime
) -> Case | None:
    """Acknowledge an open case; returns it (changed or not), None if there is no such case.
    Levels that only page unacknowledged cases are skipped from now on."""
    case = await _lock(conn, case_id)
    if case is None or escalation.acknowledge(case.status) is None:
        return case
    await cases.acknowledged(conn, case.case_id, actor, at)
    acked = replace(case, status="acknowledged")
    pending = case.next_step
    if pending is not None:
        await move(
            conn,
            acked,
            escalation.next_step(acked.policy, acked.status, after=pending, inclusive=True),
        )
    event_id = events.case_event_id(case.case_id, "acknowledged")
    await events.escalation(
        conn, events.ACKNOWLEDGED, event_id, event_fields(case, at, actor=actor)
    )
    await cases.log(conn, case.case_id, LogEntry("acknowledged", at, actor=actor))
    metrics.CASES.labels(case.kind, "acknowledged").inc()
    return acked


async def close(
    conn: Conn, deps: Deps, case_id: UUID, *, actor: str, at: datetime, reason: str
) -> Case | None:
    case = await _lock(conn, case_id)
    if case is None or escalation.close(case.status) is None:
        return case
    await cases.closed(conn, case.case_id, actor, at, reason)
    await scheduler.cancel(conn, ESCALATION_TIMER, str(case.case_id))
    event_id = events.case_event_id(case.case_id, "closed")
    await events.escalation(
        conn, events.CLOSED, event_id, event_fields(case, at, actor=actor, reason=reason[:4000])
    )
    await cases.log(conn, case.case_id, LogEntry("closed", at, actor=actor, detail=reason[:1000]))
    metrics.CASES.labels(case.kind, "closed").inc()
    return replace(case, status="closed", next_step=None)


async def close_all(
    conn: Conn, deps: Deps, found: Sequence[UUID], *, actor: str, at: datetime, reason: str
) -> None:
    for case_id in sorted(found):
        await close(conn, deps, case_id, actor=actor, at=at, reason=reason)
