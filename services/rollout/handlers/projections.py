"""Consumers: keep the projections the gate reads, and ask for a re-evaluation of the rollouts
a change can affect (the evaluation itself runs as a durable timer, see ``evaluation.arm``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.rollout.domain.evidence import Answer, Issue
from services.rollout.handlers import stages
from services.rollout.repository import projections, rollouts
from shared.consumer import Batched
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import (
    DepartmentUpserted,
    FeedbackAcknowledged,
    FeedbackResolved,
    FeedbackSubmitted,
    StaffUpserted,
    TrainingCompleted,
)
from shared.logs import get_logger

log = get_logger("onramp.rollout")

PASSING = frozenset({"completed", "passed"})


async def _arm_all(conn: Conn) -> None:
    """Directory and training facts are keyed by person, not rollout: any running rollout's
    cohorts may include the person."""
    for rollout_id in await rollouts.active_rollout_ids(conn):
        await stages.arm(conn, rollout_id)


async def _arm_if_active(conn: Conn, rollout_id: str) -> None:
    if await rollouts.is_active(conn, rollout_id):
        await stages.arm(conn, rollout_id)


async def _on_staff_upserted(conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    await _on_staff_upserted_many(conn, [event])


async def _on_staff_upserted_many(conn: Conn, events: Sequence[CloudEvent[StaffUpserted]]) -> None:
    """One upsert for the batch; of one person's events the newest wins (the later one on a
    tie), as applying them in turn would decide."""
    newest: dict[str, CloudEvent[StaffUpserted]] = {}
    for event in events:
        kept = newest.get(event.data.staff_id)
        if kept is None or kept.time <= event.time:
            newest[event.data.staff_id] = event
    await projections.upsert_staff_many(
        conn,
        [
            projections.StaffRow(
                staff_id=e.data.staff_id,
                name=e.data.name,
                department_id=e.data.department_id,
                manager_id=e.data.manager_id,
                active=e.data.active,
                at=e.time,
            )
            for e in newest.values()
        ],
    )
    await _arm_all(conn)


on_staff_upserted = Batched(_on_staff_upserted, _on_staff_upserted_many)


async def on_department_upserted(conn: Conn, event: CloudEvent[DepartmentUpserted]) -> None:
    """Names only: the report shows them, no gate depends on them."""
    dept = event.data
    await projections.upsert_department(
        conn,
        department_id=dept.department_id,
        name=dept.name,
        head_staff_id=dept.head_staff_id,
        active=dept.active,
        at=event.time,
    )


async def _on_training_completed(conn: Conn, event: CloudEvent[TrainingCompleted]) -> None:
    await _on_training_completed_many(conn, [event])


async def _on_training_completed_many(
    conn: Conn, events: Sequence[CloudEvent[TrainingCompleted]]
) -> None:
    """A failed attempt changes nothing: it does not take an earlier completion back. One upsert
    for the batch (the earliest completion per person and course counts) and one re-evaluation
    request per running rollout, not one per event."""
    earliest: dict[tuple[str, str], datetime] = {}
    for event in events:
        training = event.data
        if training.result in PASSING:
            key = (training.staff_id, training.course_id)
            seen = earliest.get(key)
            if seen is None or training.completed_at < seen:
                earliest[key] = training.completed_at
    if not earliest:
        return
    await projections.record_completions(
        conn, [(staff, course, at) for (staff, course), at in earliest.items()]
    )
    await _arm_all(conn)


on_training_completed = Batched(_on_training_completed, _on_training_completed_many)


async def on_feedback_submitted(conn: Conn, event: CloudEvent[FeedbackSubmitted]) -> None:
    """Survey answers with a CSAT score (the satisfaction criterion) and issues (blockers);
    NPS-only answers and comments are not evidence for the gate."""
    feedback = event.data
    if feedback.kind == "survey" and feedback.csat is not None:
        # The feedback service always sets respondent_key; the fallbacks cover other producers.
        respondent = feedback.respondent_key or feedback.staff_id or f"fb:{feedback.feedback_id}"
        answer = Answer(
            respondent,
            feedback.staff_id,
            feedback.department_id,
            feedback.csat,
            feedback.submitted_at,
        )
        await projections.record_answer(conn, feedback.rollout_id, feedback.feedback_id, answer)
    elif feedback.kind == "issue" and feedback.severity is not None:
        issue = Issue(
            feedback.feedback_id,
            feedback.severity,
            "open",
            feedback.staff_id,
            feedback.department_id,
        )
        await projections.record_issue(conn, feedback.rollout_id, issue, feedback.submitted_at)
    else:
        return
    await _arm_if_active(conn, feedback.rollout_id)


async def on_feedback_acknowledged(conn: Conn, event: CloudEvent[FeedbackAcknowledged]) -> None:
    """An acknowledged issue is still open: no gate changes, only its status."""
    await projections.advance_issue(conn, event.data.feedback_id, "acknowledged", event.data.at)


async def on_feedback_resolved(conn: Conn, event: CloudEvent[FeedbackResolved]) -> None:
    resolved = event.data
    if await projections.advance_issue(conn, resolved.feedback_id, "resolved", resolved.at):
        await _arm_if_active(conn, resolved.rollout_id)
    else:
        log.info("rollout.unknown_issue_resolved", feedback_id=resolved.feedback_id)
