"""Feedback coming in: over HTTP from staff, and from survey tools on onramp.feedback.intake."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.feedback import repository
from services.feedback.config import Policy
from services.feedback.domain import privacy
from services.feedback.domain.feedback import Feedback, Origin, accept
from services.feedback.domain.submission import (
    Content,
    intake_feedback_id,
    normalize,
    problems,
    timing_problems,
)
from services.feedback.handlers import UnknownRollout, events, queries
from services.feedback.repository import Row
from services.feedback.schemas import FeedbackIn
from shared import ratelimit
from shared.consumer import Rejected
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import FeedbackSubmitted
from shared.logs import get_logger

log = get_logger("onramp.feedback")


async def submit_feedback(
    conn: Conn,
    command: FeedbackIn,
    submitter: str,
    *,
    policy: Policy,
    now: datetime,
    hit: ratelimit.Hit,
) -> Row:
    """A staff member's feedback over HTTP; the body passed the rules when it was parsed.

    One statement counts the rate-limit ``hit``, finds the submitter's department and stores
    the feedback with its event, unless the hit is over the limit
    (:class:`ratelimit.OverLimit`) or the rollout is unknown."""
    feedback = accept(
        feedback_id=uuid.uuid4(),
        rollout_id=command.rollout_id,
        content=command.content(),
        respondent=privacy.Staff(submitter),
        anonymous=command.anonymous,
        department_id=None,  # the statement that stores it looks the department up
        origin=Origin("http", events.SOURCE),
        submitted_at=now,
        secret=policy.secret,
        sla=policy.sla,
    )
    person = privacy.person_key(policy.secret, submitter)
    submission = await repository.submit(
        conn, feedback, events.submitted(feedback), person_key=person, hit=hit
    )
    hit.check(submission.hits)
    if not submission.rollout_known:
        raise UnknownRollout
    _log_submitted(feedback)
    earlier = [submission.newest_answer] if submission.newest_answer else []
    stored = _as_stored(feedback) | {"department_id": submission.department_id}
    return queries.as_shown(stored, earlier)


def _as_stored(feedback: Feedback) -> Row:
    """The row just inserted, built from what was inserted instead of read back."""
    content, case = feedback.content, feedback.case
    return {
        "feedback_id": feedback.feedback_id,
        "rollout_id": feedback.rollout_id,
        "kind": content.kind,
        "csat": content.csat,
        "nps": content.nps,
        "severity": content.severity,
        "category": content.category,
        "text": content.text,
        "anonymous": feedback.anonymous,
        "staff_id": feedback.staff_id,
        "department_id": feedback.department_id,
        "respondent_key": feedback.respondent_key,
        "channel": feedback.channel,
        "source": feedback.source,
        "external_id": feedback.external_id,
        "submitted_at": feedback.submitted_at,
        "status": case.status if case else None,
        "ack_due_at": case.ack_due_at if case else None,
        "resolve_due_at": case.resolve_due_at if case else None,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
        "resolved_by": None,
        "resolution": None,
    }


async def accept_intake(
    conn: Conn, event: CloudEvent[FeedbackSubmitted], *, policy: Policy, now: datetime
) -> None:
    """A survey tool's answer, under the same rules as over HTTP. A record that breaks them is
    rejected (dead-lettered at once); one for a rollout not known yet is retried, because the
    rollout's own event may still be on its way, and dead-lettered after the last attempt."""
    data = event.data
    content = normalize(
        Content(data.kind, data.csat, data.nps, data.severity, data.category, data.text)
    )
    found = problems(content) + timing_problems(data.submitted_at, now, policy.max_clock_skew)
    if found:
        raise Rejected(f"invalid feedback: {', '.join(p.code for p in found)}")
    person = privacy.person_key(policy.secret, data.staff_id) if data.staff_id else None
    context = await repository.submission_context(conn, data.rollout_id, person)
    if not context.rollout_known:
        raise UnknownRollout("the rollout is not known (yet)")
    respondent = privacy.intake_respondent(
        event.source,
        staff_id=data.staff_id,
        tool_key=data.respondent_key,
        external_id=data.feedback_id,
    )
    feedback = accept(
        feedback_id=intake_feedback_id(event.source, data.feedback_id),
        rollout_id=data.rollout_id,
        content=content,
        respondent=respondent,
        anonymous=data.anonymous,
        department_id=data.department_id or context.department_id,
        origin=Origin("intake", event.source, data.feedback_id),
        submitted_at=data.submitted_at,
        secret=policy.secret,
        sla=policy.sla,
    )
    if not await _store(conn, feedback):
        log.info("feedback.intake_duplicate", feedback_id=str(feedback.feedback_id))


async def _store(conn: Conn, feedback: Feedback) -> bool:
    """Store and stage ``feedback.submitted`` together; False if it was stored before."""
    if not await repository.insert_feedback(conn, feedback, events.submitted(feedback)):
        return False
    _log_submitted(feedback)
    return True


def _log_submitted(feedback: Feedback) -> None:
    # Never a staff id in this log line: the log of anonymous feedback must not name its author.
    log.info(
        "feedback.submitted",
        feedback_id=str(feedback.feedback_id),
        rollout_id=feedback.rollout_id,
        kind=feedback.content.kind,
        channel=feedback.channel,
        anonymous=feedback.anonymous,
    )
