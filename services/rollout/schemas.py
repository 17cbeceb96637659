"""HTTP response models of the rollout API."""

from __future__ import annotations

from pydantic import BaseModel


class FeedbackStats(BaseModel):
    rollout_id: str
    feedback_received: int
