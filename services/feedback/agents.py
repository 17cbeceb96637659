"""What the feedback service consumes: topic → event type → handler.

Consumer handlers have the wrapper's signature ``(conn, event)``; the adapters below add the
policy (read once per process) and the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from services.feedback import config
from services.feedback.handlers import projections, submission
from shared.consumer import Handler
from shared.db import Conn
from shared.events import CloudEvent, topics
from shared.events.models import FeedbackSubmitted, StaffUpserted


async def on_intake(conn: Conn, event: CloudEvent[FeedbackSubmitted]) -> None:
    await submission.accept_intake(conn, event, policy=config.policy(), now=datetime.now(UTC))


async def on_staff_upserted(conn: Conn, event: CloudEvent[StaffUpserted]) -> None:
    await projections.on_staff_upserted(conn, event, policy=config.policy())


_ROLLOUT_EVENTS: tuple[str, ...] = (
    "onramp.rollout.stage_advanced.v1",
    "onramp.rollout.gate_changed.v1",
    "onramp.rollout.approval_recorded.v1",
    "onramp.rollout.paused.v1",
    "onramp.rollout.resumed.v1",
    "onramp.rollout.rolled_back.v1",
    "onramp.rollout.completed.v1",
)
_rollout_handlers: dict[str, Handler] = {
    "onramp.rollout.created.v1": projections.on_rollout_created,
    **dict.fromkeys(_ROLLOUT_EVENTS, projections.on_rollout_event),
}

SUBSCRIPTIONS: Mapping[str, Mapping[str, Handler]] = {
    topics.DIRECTORY: {
        "onramp.staff.upserted.v1": on_staff_upserted,
        "onramp.department.upserted.v1": projections.on_department_upserted,
    },
    topics.ROLLOUT: _rollout_handlers,
    topics.FEEDBACK_INTAKE: {"onramp.feedback.submitted.v1": on_intake},
}
