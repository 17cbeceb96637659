"""The events the feedback service publishes on onramp.feedback (key and subject: the rollout)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.feedback.domain import cases
from services.feedback.domain.feedback import Feedback
from shared.events import CloudEvent, new_event, source
from shared.events.models import FeedbackAcknowledged, FeedbackResolved, FeedbackSubmitted

SOURCE = source("feedback")


def _event(type_: str, rollout_id: str, data: BaseModel, at: datetime) -> CloudEvent[Any]:
    return new_event(type_, source=SOURCE, subject=f"rollout/{rollout_id}", data=data, time=at)


def submitted(feedback: Feedback) -> CloudEvent[Any]:
    """The canonical ``feedback.submitted``: no staff id when anonymous, always a respondent key."""
    content = feedback.content
    data = FeedbackSubmitted(
        feedback_id=str(feedback.feedback_id),
        rollout_id=feedback.rollout_id,
        kind=content.kind,
        csat=content.csat,
        nps=content.nps,
        severity=content.severity,
        category=content.category,
        text=content.text,
        anonymous=feedback.anonymous,
        staff_id=feedback.staff_id,
        department_id=feedback.department_id,
        respondent_key=feedback.respondent_key,
        submitted_at=feedback.submitted_at,
    )
    return _event("onramp.feedback.submitted.v1", feedback.rollout_id, data, feedback.submitted_at)


def case_transition(
    feedback_id: uuid.UUID, rollout_id: str, transition: cases.Transition
) -> CloudEvent[Any]:
    match transition:
        case cases.Acknowledged(actor, at):
            acknowledged = FeedbackAcknowledged(
                feedback_id=str(feedback_id), rollout_id=rollout_id, actor=actor, at=at
            )
            return _event("onramp.feedback.acknowledged.v1", rollout_id, acknowledged, at)
        case cases.Resolved(actor, resolution, at):
            resolved = FeedbackResolved(
                feedback_id=str(feedback_id),
                rollout_id=rollout_id,
                actor=actor,
                resolution=resolution,
                at=at,
            )
            return _event("onramp.feedback.resolved.v1", rollout_id, resolved, at)
