"""Every event type Onramp knows: its full name, its data model and the topic its owner uses."""

from pydantic import BaseModel

from shared.events import models as m
from shared.events import topics

SOURCE_PREFIX = "/onramp/"

_CATALOGUE: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("onramp.staff.upserted.v1", m.StaffUpserted, topics.DIRECTORY),
    ("onramp.department.upserted.v1", m.DepartmentUpserted, topics.DIRECTORY),
    ("onramp.training.completed.v1", m.TrainingCompleted, topics.TRAINING),
    # Survey tools publish it on onramp.feedback.intake; the canonical copy goes out here.
    ("onramp.feedback.submitted.v1", m.FeedbackSubmitted, topics.FEEDBACK),
    ("onramp.feedback.acknowledged.v1", m.FeedbackAcknowledged, topics.FEEDBACK),
    ("onramp.feedback.resolved.v1", m.FeedbackResolved, topics.FEEDBACK),
    ("onramp.rollout.created.v1", m.RolloutCreated, topics.ROLLOUT),
    ("onramp.rollout.stage_advanced.v1", m.RolloutStageAdvanced, topics.ROLLOUT),
    ("onramp.rollout.gate_changed.v1", m.RolloutGateChanged, topics.ROLLOUT),
    ("onramp.rollout.approval_recorded.v1", m.RolloutApprovalRecorded, topics.ROLLOUT),
    ("onramp.rollout.paused.v1", m.RolloutPaused, topics.ROLLOUT),
    ("onramp.rollout.resumed.v1", m.RolloutResumed, topics.ROLLOUT),
    ("onramp.rollout.rolled_back.v1", m.RolloutRolledBack, topics.ROLLOUT),
    ("onramp.rollout.completed.v1", m.RolloutCompleted, topics.ROLLOUT),
    ("onramp.notification.sent.v1", m.NotificationSent, topics.NOTIFY),
    ("onramp.notification.failed.v1", m.NotificationFailed, topics.NOTIFY),
    ("onramp.escalation.opened.v1", m.EscalationOpened, topics.NOTIFY),
    ("onramp.escalation.escalated.v1", m.EscalationEscalated, topics.NOTIFY),
    ("onramp.escalation.acknowledged.v1", m.EscalationAcknowledged, topics.NOTIFY),
    ("onramp.escalation.closed.v1", m.EscalationClosed, topics.NOTIFY),
)

EVENT_TYPES: dict[str, type[BaseModel]] = {name: model for name, model, _ in _CATALOGUE}
TOPIC_OF: dict[str, str] = {name: topic for name, _, topic in _CATALOGUE}
TYPE_OF: dict[type[BaseModel], str] = {model: name for name, model, _ in _CATALOGUE}


def source(service: str) -> str:
    """The CloudEvents ``source`` of one of our services, e.g. ``/onramp/rollout``."""
    return f"{SOURCE_PREFIX}{service}"
