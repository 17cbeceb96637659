"""What the feedback service keeps of other services' events: departments and known rollouts."""

from __future__ import annotations

from typing import Any

from services.feedback import repository
from services.feedback.config import Policy
from services.feedback.domain import privacy
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import DepartmentUpserted, RolloutCreated, StaffUpserted


async def on_staff_upserted(
    conn: Conn, event: CloudEvent[StaffUpserted], *, policy: Policy
) -> None:
    """Only a pseudonym of the staff id is kept, with the department feedback is filed under."""
    staff = event.data
    key = privacy.person_key(policy.secret, staff.staff_id)
    await repository.record_person(conn, key, staff.department_id, event.time)


async def on_department_upserted(conn: Conn, event: CloudEvent[DepartmentUpserted]) -> None:
    department = event.data
    await repository.record_department(conn, department.department_id, department.name, event.time)


async def on_rollout_created(conn: Conn, event: CloudEvent[RolloutCreated]) -> None:
    await repository.remember_rollout(conn, event.data.rollout_id, event.data.name, event.time)


async def on_rollout_event(conn: Conn, event: CloudEvent[Any]) -> None:
    """Any other rollout event makes its rollout known too, so that a projection rebuilt after
    rollout.created left the topic's retention still accepts feedback for live rollouts."""
    await repository.remember_rollout(conn, event.data.rollout_id, None, event.time)
