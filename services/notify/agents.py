"""What the notify service consumes: topic → event type → handler."""

from __future__ import annotations

from collections.abc import Mapping

from services.notify import handlers
from shared.consumer import Handler
from shared.events import topics

SUBSCRIPTIONS: Mapping[str, Mapping[str, Handler]] = {
    topics.DIRECTORY: {"onramp.staff.upserted.v1": handlers.on_staff_upserted},
    topics.FEEDBACK: {"onramp.feedback.submitted.v1": handlers.on_feedback_submitted},
}
