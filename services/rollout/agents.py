"""What the rollout service consumes: topic → event type → handler, and its durable timers."""

from __future__ import annotations

from collections.abc import Mapping

from services.rollout.handlers import escalations, evaluation, projections, stages
from shared.consumer import Handler
from shared.events import topics
from shared.scheduler import TimerHandler

SUBSCRIPTIONS: Mapping[str, Mapping[str, Handler]] = {
    topics.DIRECTORY: {
        "onramp.staff.upserted.v1": projections.on_staff_upserted,
        "onramp.department.upserted.v1": projections.on_department_upserted,
    },
    topics.TRAINING: {"onramp.training.completed.v1": projections.on_training_completed},
    topics.FEEDBACK: {
        "onramp.feedback.submitted.v1": projections.on_feedback_submitted,
        "onramp.feedback.acknowledged.v1": projections.on_feedback_acknowledged,
        "onramp.feedback.resolved.v1": projections.on_feedback_resolved,
    },
    topics.NOTIFY: {
        "onramp.escalation.opened.v1": escalations.on_opened,
        "onramp.escalation.escalated.v1": escalations.on_escalated,
        "onramp.escalation.acknowledged.v1": escalations.on_acknowledged,
        "onramp.escalation.closed.v1": escalations.on_closed,
    },
}

TIMERS: Mapping[str, TimerHandler] = {
    stages.EVALUATE: evaluation.on_timer,
    stages.SOAK: evaluation.on_timer,
}
