"""Small real events for plumbing tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel

from shared.events import CloudEvent, new_event
from shared.events.models import TrainingCompleted

TRAINING_COMPLETED = "onramp.training.completed.v1"


def training_event(
    staff_id: str | None = None, *, source: str = "/test/lms"
) -> CloudEvent[BaseModel]:
    staff = staff_id or f"s-{uuid.uuid4().hex[:8]}"
    data = TrainingCompleted(
        staff_id=staff, course_id="intro", result="passed", completed_at=datetime.now(UTC)
    )
    return new_event(TRAINING_COMPLETED, source=source, subject=f"staff/{staff}", data=data)
