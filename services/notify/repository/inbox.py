"""The in-app inbox: notifications, once per (source event, recipient, template)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any
from uuid import UUID

from shared.db import Conn


@dataclass(frozen=True, slots=True)
class NewNotification:
    notification_id: UUID
    recipient_id: str
    template: str
    source_event_id: str
    source_event_type: str
    rollout_id: str | None
    case_id: UUID | None
    locale: str
    subject: str
    body: str
    data: dict[str, Any]
    priority: str


def _row(row: NewNotification) -> tuple[object, ...]:
    """The dataclass's values, shallow (``astuple`` deep-copies every ``data`` dict)."""
    return tuple(getattr(row, f.name) for f in fields(row))


async def insert(conn: Conn, rows: Sequence[NewNotification]) -> set[UUID]:
    """Insert what is new; returns the ids inserted (a redelivered event inserts nothing)."""
    if not rows:
        return set()
    columns = list(zip(*(_row(r) for r in rows), strict=True))
    inserted = await conn.fetch(
        """INSERT INTO notifications (notification_id, recipient_id, template, source_event_id,
                                      source_event_type, rollout_id, case_id, locale, subject,
                                      body, data, priority)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::uuid[], $8::text[], $9::text[], $10::text[],
                                $11::jsonb[], $12::text[])
           ON CONFLICT (source_event_id, recipient_id, template) DO NOTHING
           RETURNING notification_id""",
        *(list(column) for column in columns),
    )
    return {r["notification_id"] for r in inserted}


_OUT = """notification_id, template, source_event_id, source_event_type, rollout_id, case_id,
          locale, subject, body, data, priority, created_at, read_at, seq"""


async def page(
    conn: Conn, recipient_id: str, *, unread_only: bool, limit: int, before_seq: int | None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_OUT} FROM notifications
            WHERE recipient_id = $1 AND (NOT $2 OR read_at IS NULL)
              AND ($4::bigint IS NULL OR seq < $4)
            ORDER BY seq DESC LIMIT $3""",
        recipient_id,
        unread_only,
        limit,
        before_seq,
    )
    return [dict(r) for r in rows]


async def unread_count(conn: Conn, recipient_id: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE recipient_id = $1 AND read_at IS NULL",
        recipient_id,
    )
    return count


async def mark_read(conn: Conn, recipient_id: str, notification_id: UUID) -> bool:
    status = await conn.execute(
        """UPDATE notifications SET read_at = coalesce(read_at, now())
           WHERE notification_id = $1 AND recipient_id = $2""",
        notification_id,
        recipient_id,
    )
    return status != "UPDATE 0"


async def mark_all_read(conn: Conn, recipient_id: str) -> int:
    status = await conn.execute(
        "UPDATE notifications SET read_at = now() WHERE recipient_id = $1 AND read_at IS NULL",
        recipient_id,
    )
    return int(status.split()[-1])


async def was_notified(conn: Conn, case_id: UUID, staff_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM notifications WHERE case_id = $1 AND recipient_id = $2 LIMIT 1",
        case_id,
        staff_id,
    )
    return found is True
