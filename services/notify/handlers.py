"""Notify use cases. Each takes the caller's connection; the edge owns the transaction."""

from __future__ import annotations

from services.notify import domain, repository
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import FeedbackSubmitted, StaffUpserted


async def on_staff_upserted(conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    await repository.upsert_staff(conn, event.data.model_dump(), event.time)


async def on_feedback_submitted(conn: Conn, event: CloudEvent[FeedbackSubmitted]) -> None:
    feedback = event.data
    issue = domain.IssueReported(
        feedback_id=str(feedback.feedback_id),
        rollout_id=feedback.rollout_id,
        kind=feedback.kind,
        severity=feedback.severity,
        category=feedback.category,
    )
    if not domain.is_urgent(issue):
        return
    it_support = await repository.active_staff_with_role(conn, "it_support")
    await repository.add_notifications(conn, event.id, domain.issue_alerts(issue, it_support))
