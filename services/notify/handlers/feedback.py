"""Issues: urgent ones open escalation cases; acknowledging and resolving move the case on;
a resolution tells the submitter what was done (never for anonymous feedback)."""

from __future__ import annotations

from services.notify.domain import escalation, rules
from services.notify.handlers import case_status, cases, fanout
from services.notify.repository import cases as case_repo
from services.notify.repository import projections
from services.notify.settings import Deps
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import FeedbackAcknowledged, FeedbackResolved, FeedbackSubmitted


async def on_submitted(deps: Deps, conn: Conn, event: CloudEvent[FeedbackSubmitted]) -> None:
    feedback = event.data
    if feedback.kind != "issue":
        return  # only issues have a life cycle that notify follows
    await projections.issue_submitted(conn, feedback.model_dump())
    if not escalation.opens_issue_case(feedback.kind, feedback.severity):
        return
    rollout = await projections.rollout(conn, feedback.rollout_id)
    rollout_name = rollout.name if rollout else feedback.rollout_id
    facts = {
        "feedback_id": feedback.feedback_id,
        "rollout_id": feedback.rollout_id,
        "rollout_name": rollout_name,
        "severity": feedback.severity,
        "category": feedback.category,
    }
    category = f" ({feedback.category})" if feedback.category else ""
    opening = cases.Opening(
        kind="issue",
        dedupe_key=f"issue:{feedback.feedback_id}",
        reason=f"{feedback.severity} issue{category} in rollout {rollout_name}",
        facts=facts,
        opened_at=feedback.submitted_at,
        rollout_id=feedback.rollout_id,
        feedback_id=feedback.feedback_id,
        submitter_id=feedback.staff_id,
        department_id=feedback.department_id,
    )
    await cases.open_case(conn, deps, opening)


async def on_acknowledged(deps: Deps, conn: Conn, event: CloudEvent[FeedbackAcknowledged]) -> None:
    ack = event.data
    await projections.issue_status(conn, ack.feedback_id, "acknowledged")
    for case_id in await case_repo.open_case_ids(conn, feedback_id=ack.feedback_id):
        await case_status.acknowledge(conn, deps, case_id, actor=ack.actor, at=ack.at)


async def on_resolved(deps: Deps, conn: Conn, event: CloudEvent[FeedbackResolved]) -> None:
    resolved = event.data
    issue = await projections.issue_status(conn, resolved.feedback_id, "resolved")
    found = await case_repo.open_case_ids(conn, feedback_id=resolved.feedback_id)
    await case_status.close_all(
        conn, deps, found, actor=resolved.actor, at=resolved.at, reason="issue resolved"
    )
    drafts = rules.feedback_resolved(
        feedback_id=resolved.feedback_id,
        rollout_id=resolved.rollout_id,
        submitter=issue["staff_id"] if issue else None,
        resolution=resolved.resolution,
        category=issue["category"] if issue else None,
    )
    source = fanout.Source(event.id, event.type, resolved.rollout_id)
    await fanout.publish(conn, deps, source, drafts)
