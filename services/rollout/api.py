"""Rollout HTTP routes: parse, call one handler, format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.rollout import repository
from services.rollout.schemas import FeedbackStats
from shared.auth import Principal, require_roles
from shared.deps import Tx

router = APIRouter(tags=["rollouts"])

Reader = Annotated[Principal, Depends(require_roles("admin", "approver"))]


@router.get("/rollouts/{rollout_id}/feedback-stats")
async def feedback_stats(rollout_id: str, _: Reader, conn: Tx) -> FeedbackStats:
    received = await repository.feedback_received(conn, rollout_id)
    return FeedbackStats(rollout_id=rollout_id, feedback_received=received)
