"""Feedback HTTP routes: parse, call one handler, format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException

from services.feedback import handlers, repository
from services.feedback.schemas import FeedbackIn, FeedbackOut
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import AppSettings, Tx

router = APIRouter(tags=["feedback"])

Submitter = Annotated[Principal, Depends(require_roles("staff"))]


@router.post("/feedback", status_code=201)
async def submit_feedback(
    body: FeedbackIn, principal: Submitter, conn: Tx, settings: AppSettings
) -> FeedbackOut:
    row = await handlers.submit_feedback(
        conn,
        body,
        principal.sub,
        respondent_secret=settings.respondent_key_secret.get_secret_value().encode(),
        now=datetime.now(UTC),
    )
    return FeedbackOut.model_validate(row)


@router.get("/feedback/{feedback_id}")
async def get_feedback(feedback_id: UUID, principal: CurrentPrincipal, conn: Tx) -> FeedbackOut:
    row = await repository.get_feedback(conn, feedback_id)
    if row is None:
        raise HTTPException(404, "no such feedback")
    if row["staff_id"] != principal.sub and not principal.has_any("it_support", "admin"):
        raise HTTPException(404, "no such feedback")  # do not reveal that it exists
    return FeedbackOut.model_validate(row)
