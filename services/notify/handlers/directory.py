"""The directory (HR) and the learning system: who people are, and who completed what."""

from __future__ import annotations

from services.notify.domain.reminders import COUNTS_AS_DONE
from services.notify.handlers import reminders
from services.notify.repository import deliveries, directory, ladders, projections
from services.notify.settings import Deps
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import DepartmentUpserted, StaffUpserted, TrainingCompleted


async def on_staff_upserted(deps: Deps, conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    await directory.upsert_staff(conn, event.data.model_dump(), event.time)


async def on_department_upserted(
    deps: Deps, conn: Conn, event: CloudEvent[DepartmentUpserted]
) -> None:
    await directory.upsert_department(conn, event.data.model_dump(), event.time)


async def on_training_completed(
    deps: Deps, conn: Conn, event: CloudEvent[TrainingCompleted]
) -> None:
    """Record the result; a person who now has every course of a ladder gets no more of its
    reminders, including any still waiting for quiet hours to end or for a retry."""
    training = event.data
    done = training.result in COUNTS_AS_DONE
    await projections.record_training(
        conn, training.staff_id, training.course_id, done=done, at=training.completed_at
    )
    if not done:
        return
    for ladder in await ladders.ladders_of(conn, training.staff_id):
        have = await projections.completed_courses(conn, [training.staff_id], ladder.course_ids)
        if set(ladder.course_ids) <= have.get(training.staff_id, set()):
            prefix = reminders.source_prefix(ladder.rollout_id, ladder.stage_index)
            await deliveries.cancel_unsent(conn, training.staff_id, "training.reminder", prefix)
