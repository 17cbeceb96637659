"""Notify HTTP routes: parse, call one handler, format."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query

from services.notify import repository
from services.notify.schemas import NotificationOut, NotificationPage
from shared.auth import CurrentPrincipal
from shared.deps import Tx

router = APIRouter(tags=["inbox"])


@router.get("/me/notifications")
async def my_notifications(
    principal: CurrentPrincipal,
    conn: Tx,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: datetime | None = None,
) -> NotificationPage:
    rows = await repository.inbox(
        conn, principal.sub, unread_only=unread, limit=limit, before=before
    )
    items = [NotificationOut.model_validate(r) for r in rows]
    next_before = items[-1].created_at if len(items) == limit else None
    return NotificationPage(items=items, next_before=next_before)


@router.post("/me/notifications/{notification_id}/read", status_code=204)
async def mark_read(notification_id: UUID, principal: CurrentPrincipal, conn: Tx) -> None:
    if not await repository.mark_read(conn, principal.sub, notification_id):
        raise HTTPException(404, "no such notification in your inbox")
