"""Accepted feedback: what the service stores and announces, built the same way on both paths."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.feedback.domain import cases, privacy
from services.feedback.domain.submission import Channel, Content, normalize


@dataclass(frozen=True, slots=True)
class Feedback:
    feedback_id: uuid.UUID
    rollout_id: str
    content: Content
    anonymous: bool
    staff_id: str | None  # None whenever anonymous
    department_id: str | None
    respondent_key: str
    channel: Channel
    source: str  # our own source for HTTP, the survey tool's CloudEvents source for intake
    external_id: str | None  # the survey tool's feedback id
    submitted_at: datetime
    case: cases.Case | None  # issues only


@dataclass(frozen=True, slots=True)
class Origin:
    """Where feedback came from: the path, the producer and the producer's own id for it."""

    channel: Channel
    source: str
    external_id: str | None = None


def accept(
    *,
    feedback_id: uuid.UUID,
    rollout_id: str,
    content: Content,
    respondent: privacy.Respondent,
    anonymous: bool,
    department_id: str | None,
    origin: Origin,
    submitted_at: datetime,
    secret: bytes,
    sla: cases.SlaTargets,
) -> Feedback:
    """Feedback as stored: anonymity applied, respondent key derived, an issue's case opened.
    Expects content that passed :func:`~services.feedback.domain.submission.problems`."""
    content = normalize(content)
    key = privacy.respondent_key(
        secret, respondent, rollout_id, kind=content.kind, anonymous=anonymous
    )
    case = None
    if content.kind == "issue" and content.severity is not None:
        case = cases.open_case(content.severity, submitted_at, sla)
    return Feedback(
        feedback_id=feedback_id,
        rollout_id=rollout_id,
        content=content,
        anonymous=anonymous,
        staff_id=privacy.stored_staff_id(respondent, anonymous=anonymous),
        department_id=department_id,
        respondent_key=key,
        channel=origin.channel,
        source=origin.source,
        external_id=origin.external_id,
        submitted_at=submitted_at,
        case=case,
    )
