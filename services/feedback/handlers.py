"""Feedback use cases. Each takes the caller's connection; the edge owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from services.feedback import domain, repository
from services.feedback.schemas import FeedbackIn
from shared import outbox
from shared.db import Conn
from shared.events import CloudEvent, new_event, topics
from shared.events.models import FeedbackSubmitted, StaffUpserted

SOURCE = "/onramp/feedback"


async def submit_feedback(
    conn: Conn, command: FeedbackIn, submitter: str, *, respondent_secret: bytes, now: datetime
) -> dict[str, Any]:
    """Store the feedback and stage ``feedback.submitted`` in the same transaction."""
    row: dict[str, Any] = {
        **command.model_dump(),
        "feedback_id": uuid4(),
        "staff_id": domain.stored_staff_id(submitter, anonymous=command.anonymous),
        "department_id": await repository.staff_department(conn, submitter),
        "respondent_key": domain.respondent_key(respondent_secret, submitter, command.rollout_id),
        "submitted_at": now,
        "status": "open",
    }
    await repository.insert_feedback(conn, row)
    data = FeedbackSubmitted.model_validate(
        {**row, "feedback_id": str(row["feedback_id"]), "text": row["text"] or ""}
    )
    event = new_event(
        "onramp.feedback.submitted.v1",
        source=SOURCE,
        subject=f"rollout/{command.rollout_id}",
        data=data,
        time=now,
    )
    await outbox.add(conn, event, topic=topics.FEEDBACK, key=command.rollout_id)
    return row


async def on_staff_upserted(conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    staff = event.data
    await repository.record_department(conn, staff.staff_id, staff.department_id, event.time)
