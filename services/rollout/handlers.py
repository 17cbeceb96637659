"""Rollout use cases. Each takes the caller's connection; the edge owns the transaction."""

from __future__ import annotations

from services.rollout import domain, repository
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import DepartmentUpserted, FeedbackSubmitted, StaffUpserted


async def on_feedback_submitted(conn: Conn, event: CloudEvent[FeedbackSubmitted]) -> None:
    if domain.counts_toward_feedback(event.data.kind):
        await repository.count_feedback(conn, event.data.rollout_id)


async def on_staff_upserted(conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    staff = event.data
    await repository.upsert_staff(
        conn, staff.staff_id, staff.department_id, staff.active, event.time
    )


async def on_department_upserted(conn: Conn, event: CloudEvent[DepartmentUpserted]) -> None:
    dept = event.data
    await repository.upsert_department(
        conn, dept.department_id, dept.name, dept.head_staff_id, event.time
    )
