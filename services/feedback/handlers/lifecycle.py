"""The case of an issue: IT support acknowledges and resolves it; each transition is an event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from services.feedback import repository
from services.feedback.domain import cases
from services.feedback.handlers import NotFound, events, queries
from services.feedback.repository import Row
from shared import outbox
from shared.db import Conn
from shared.events import topics
from shared.logs import get_logger

log = get_logger("onramp.feedback")


async def acknowledge(conn: Conn, feedback_id: uuid.UUID, actor: str, *, now: datetime) -> Row:
    return await _change(conn, feedback_id, lambda case: cases.acknowledge(case, actor, now))


async def resolve(
    conn: Conn, feedback_id: uuid.UUID, actor: str, resolution: str, *, now: datetime
) -> Row:
    return await _change(
        conn, feedback_id, lambda case: cases.resolve(case, actor, resolution, now)
    )


async def _change(
    conn: Conn, feedback_id: uuid.UUID, change: Callable[[cases.Case], cases.Change]
) -> Row:
    """Lock the issue (concurrent commands queue up), apply the transition, and stage one event
    per transition, in order."""
    row = await repository.get_feedback(conn, feedback_id, lock=True)
    if row is None:
        raise NotFound
    cases.require_issue(row["kind"])
    changed = change(repository.case_of(row))
    await repository.save_case(conn, feedback_id, changed.case)
    for transition in changed.transitions:
        event = events.case_transition(feedback_id, row["rollout_id"], transition)
        await outbox.add(conn, event, topic=topics.FEEDBACK, key=row["rollout_id"])
    log.info("feedback.case_changed", feedback_id=str(feedback_id), status=changed.case.status)
    return await queries.visible_row(conn, feedback_id)
