"""The events notify publishes, always through the outbox of the current transaction.

Escalation events get ids derived from the case and step, so a step can never be announced
twice: a second attempt would collide on the outbox's unique event id and roll back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from shared import outbox
from shared.db import Conn
from shared.events import new_event, source, topics
from shared.events.models import (
    EscalationAcknowledged,
    EscalationClosed,
    EscalationEscalated,
    EscalationOpened,
    NotificationFailed,
    NotificationSent,
)

SOURCE = source("notify")
SENT = "onramp.notification.sent.v1"
FAILED = "onramp.notification.failed.v1"
OPENED = "onramp.escalation.opened.v1"
ESCALATED = "onramp.escalation.escalated.v1"
ACKNOWLEDGED = "onramp.escalation.acknowledged.v1"
CLOSED = "onramp.escalation.closed.v1"
_CASE_EVENTS = uuid.UUID("6f1d4c2e-8a57-4e0b-9f3d-2b7c1a9e5d40")


def case_event_id(case_id: UUID, what: str) -> str:
    """Deterministic: ``opened``, ``step:<loop>:<level>``, ``acknowledged``, ``closed``."""
    return str(uuid.uuid5(_CASE_EVENTS, f"{case_id}:{what}"))


async def _publish(
    conn: Conn, type_: str, data: BaseModel, *, subject: str, key: str, at: datetime, id: str
) -> None:
    event = new_event(type_, source=SOURCE, subject=subject, data=data, id=id, time=at)
    await outbox.add(conn, event, topic=topics.NOTIFY, key=key)


async def notification_sent(conn: Conn, fields: dict[str, Any], *, at: datetime) -> None:
    """``fields``: notification_id, recipient_id, channel, template, source_event_id,
    source_event_type, rollout_id."""
    await notifications_sent(conn, [fields], at=at)


async def notifications_sent(conn: Conn, many: Sequence[dict[str, Any]], *, at: datetime) -> None:
    """:func:`notification_sent` for each of ``many``, staged in one statement."""
    staged = []
    for fields in many:
        data = NotificationSent(**fields, at=at)
        event = new_event(
            SENT,
            source=SOURCE,
            subject=f"notification/{data.notification_id}",
            data=data,
            id=str(uuid.uuid4()),
            time=at,
        )
        staged.append((event, topics.NOTIFY, data.recipient_id))
    await outbox.add_all(conn, staged)


async def notification_failed(
    conn: Conn, fields: dict[str, Any], *, attempts: int, error: str, at: datetime
) -> None:
    data = NotificationFailed(**fields, attempts=attempts, error=error[:1000], at=at)
    await _publish(
        conn,
        FAILED,
        data,
        subject=f"notification/{data.notification_id}",
        key=data.recipient_id,
        at=at,
        id=str(uuid.uuid4()),
    )


async def escalation(conn: Conn, type_: str, event_id: str, fields: dict[str, Any]) -> None:
    """Any ``escalation.*`` event; ``fields`` as its model takes them (``case_id`` first)."""
    models: dict[str, type[BaseModel]] = {
        OPENED: EscalationOpened,
        ESCALATED: EscalationEscalated,
        ACKNOWLEDGED: EscalationAcknowledged,
        CLOSED: EscalationClosed,
    }
    data = models[type_](**fields)
    case_id = fields["case_id"]
    await _publish(
        conn,
        type_,
        data,
        subject=f"escalation/{case_id}",
        key=case_id,
        at=fields["at"],
        id=event_id,
    )
