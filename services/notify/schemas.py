"""HTTP response models of the notify API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class NotificationOut(BaseModel):
    notification_id: UUID
    template: str
    source_event_id: str
    subject: str
    body: str
    data: dict[str, Any]
    priority: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_before: datetime | None
