"""All SQL of the notify service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.notify.domain import Draft
from shared.db import Conn


async def upsert_staff(conn: Conn, staff: dict[str, Any], at: datetime) -> None:
    """Newer directory facts win; a replayed older event changes nothing."""
    await conn.execute(
        """INSERT INTO staff (staff_id, name, email, department_id, manager_id, roles, timezone,
                              locale, active, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (staff_id) DO UPDATE
           SET name = EXCLUDED.name, email = EXCLUDED.email,
               department_id = EXCLUDED.department_id, manager_id = EXCLUDED.manager_id,
               roles = EXCLUDED.roles, timezone = EXCLUDED.timezone, locale = EXCLUDED.locale,
               active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
           WHERE staff.updated_at <= EXCLUDED.updated_at""",
        staff["staff_id"],
        staff["name"],
        staff["email"],
        staff["department_id"],
        staff["manager_id"],
        staff["roles"],
        staff["timezone"],
        staff["locale"],
        staff["active"],
        at,
    )


async def active_staff_with_role(conn: Conn, role: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT staff_id FROM staff WHERE active AND $1 = ANY(roles) ORDER BY staff_id", role
    )
    return [r["staff_id"] for r in rows]


async def add_notifications(conn: Conn, source_event_id: str, drafts: list[Draft]) -> int:
    """Insert once per (source event, recipient, template); returns how many were new."""
    if not drafts:
        return 0
    rows = [
        (
            uuid4(),
            d.recipient_id,
            d.template,
            source_event_id,
            d.subject,
            d.body,
            d.data,
            d.priority,
        )
        for d in drafts
    ]
    inserted = await conn.fetch(
        """INSERT INTO notifications (notification_id, recipient_id, template, source_event_id,
                                      subject, body, data, priority)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::jsonb[], $8::text[])
           ON CONFLICT (source_event_id, recipient_id, template) DO NOTHING
           RETURNING notification_id""",
        *(list(column) for column in zip(*rows, strict=True)),
    )
    return len(inserted)


async def inbox(
    conn: Conn, recipient_id: str, *, unread_only: bool, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT notification_id, template, source_event_id, subject, body, data, priority,
                  created_at, read_at
           FROM notifications
           WHERE recipient_id = $1 AND (NOT $2 OR read_at IS NULL)
             AND ($4::timestamptz IS NULL OR created_at < $4)
           ORDER BY created_at DESC, notification_id LIMIT $3""",
        recipient_id,
        unread_only,
        limit,
        before,
    )
    return [dict(r) for r in rows]


async def mark_read(conn: Conn, recipient_id: str, notification_id: UUID) -> bool:
    status = await conn.execute(
        """UPDATE notifications SET read_at = coalesce(read_at, now())
           WHERE notification_id = $1 AND recipient_id = $2""",
        notification_id,
        recipient_id,
    )
    return status != "UPDATE 0"
