"""External deliveries (email, chat): one row per (notification, channel), or per digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db import Conn


@dataclass(frozen=True, slots=True)
class NewDelivery:
    notification_id: UUID | None
    recipient_id: str
    channel: str
    address: str
    priority: str
    status: str  # pending | digest
    shard: int
    due_at: datetime | None


def _row(row: NewDelivery) -> tuple[object, ...]:
    """The dataclass's values, shallow (``astuple`` deep-copies every ``data`` dict)."""
    return tuple(getattr(row, f.name) for f in fields(row))


async def insert(conn: Conn, rows: Sequence[NewDelivery]) -> list[int]:
    if not rows:
        return []
    columns = list(zip(*(_row(r) for r in rows), strict=True))
    inserted = await conn.fetch(
        """INSERT INTO deliveries (notification_id, recipient_id, channel, address, priority,
                                   status, shard, due_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::integer[], $8::timestamptz[])
           ON CONFLICT (notification_id, channel) DO NOTHING
           RETURNING delivery_id""",
        *(list(column) for column in columns),
    )
    return [r["delivery_id"] for r in inserted]


# --- shards: when each delivery timer is armed for ----------------------------------------


@dataclass(frozen=True, slots=True)
class Armed:
    due: datetime | None  # what the shard's timer is armed for (None: not armed)
    passed: bool  # that time has come: the timer is firing, or about to


async def lock_shard(conn: Conn, shard: int, now: datetime) -> Armed:
    """Lock the shard's row (creating it) and say when its timer is armed for."""
    await conn.execute(
        "INSERT INTO delivery_shards (shard) VALUES ($1) ON CONFLICT DO NOTHING", shard
    )
    due: datetime | None = await conn.fetchval(
        "SELECT next_due FROM delivery_shards WHERE shard = $1 FOR UPDATE", shard
    )
    return Armed(due, due is not None and due <= now)


async def set_shard_due(conn: Conn, shard: int, due: datetime | None) -> None:
    await conn.execute("UPDATE delivery_shards SET next_due = $2 WHERE shard = $1", shard, due)


async def next_pending_due(conn: Conn, shard: int) -> datetime | None:
    due: datetime | None = await conn.fetchval(
        "SELECT min(due_at) FROM deliveries WHERE shard = $1 AND status = 'pending'", shard
    )
    return due


# --- sending ------------------------------------------------------------------------------


async def claim_due(conn: Conn, shard: int, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Due pending deliveries of ``shard``, oldest first, locked for this batch, with what
    sending needs: the notification's text and the recipient's time zone and preferences."""
    rows = await conn.fetch(
        """SELECT d.delivery_id, d.notification_id, d.recipient_id, d.channel, d.address,
                  d.priority, d.attempts, d.due_at,
                  n.template, n.subject, n.body, n.locale, n.source_event_id,
                  n.source_event_type, n.rollout_id,
                  s.timezone, s.locale AS staff_locale, p.prefs
           FROM deliveries d
           LEFT JOIN notifications n ON n.notification_id = d.notification_id
           LEFT JOIN staff s ON s.staff_id = d.recipient_id
           LEFT JOIN preferences p ON p.staff_id = d.recipient_id
           WHERE d.shard = $1 AND d.status = 'pending' AND d.due_at <= $2
           ORDER BY d.due_at, d.delivery_id LIMIT $3
           FOR UPDATE OF d SKIP LOCKED""",
        shard,
        now,
        limit,
    )
    return [dict(r) for r in rows]


async def carried(conn: Conn, digest_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The notifications each digest delivery carries, oldest first."""
    rows = await conn.fetch(
        """SELECT d.digest_id, n.notification_id, n.template, n.subject, n.source_event_id,
                  n.source_event_type, n.rollout_id, n.created_at
           FROM deliveries d JOIN notifications n ON n.notification_id = d.notification_id
           WHERE d.digest_id = ANY($1::bigint[]) ORDER BY n.seq""",
        list(digest_ids),
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(r["digest_id"], []).append(dict(r))
    return found


async def sent(conn: Conn, ids: Sequence[int], at: datetime) -> None:
    """Mark deliveries (and what digests among them carried) as sent."""
    await conn.execute(
        """UPDATE deliveries SET status = 'sent', sent_at = $2, attempts = attempts + 1,
                                 last_error = NULL
           WHERE delivery_id = ANY($1::bigint[])""",
        list(ids),
        at,
    )
    await conn.execute(
        """UPDATE deliveries SET status = 'sent', sent_at = $2
           WHERE digest_id = ANY($1::bigint[])""",
        list(ids),
        at,
    )


async def retry_later(conn: Conn, retries: Sequence[tuple[int, datetime, str]]) -> None:
    if not retries:
        return
    ids, dues, errors = (list(c) for c in zip(*retries, strict=True))
    await conn.execute(
        """UPDATE deliveries d SET due_at = r.due_at, last_error = r.error,
                                   attempts = d.attempts + 1
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS r (id, due_at, error)
           WHERE d.delivery_id = r.id""",
        ids,
        dues,
        errors,
    )


async def failed(conn: Conn, failures: Sequence[tuple[int, str]]) -> None:
    if not failures:
        return
    ids, errors = (list(c) for c in zip(*failures, strict=True))
    await conn.execute(
        """UPDATE deliveries d SET status = 'failed', last_error = r.error,
                                   attempts = d.attempts + 1
           FROM unnest($1::bigint[], $2::text[]) AS r (id, error)
           WHERE d.delivery_id = r.id OR d.digest_id = r.id""",
        ids,
        errors,
    )


async def hold(conn: Conn, holds: Sequence[tuple[int, datetime]]) -> None:
    """Move deliveries out of a quiet window (no attempt was made)."""
    if not holds:
        return
    ids, dues = (list(c) for c in zip(*holds, strict=True))
    await conn.execute(
        """UPDATE deliveries d SET due_at = h.due_at
           FROM unnest($1::bigint[], $2::timestamptz[]) AS h (id, due_at)
           WHERE d.delivery_id = h.id""",
        ids,
        dues,
    )


# --- digests ------------------------------------------------------------------------------


async def take_for_digest(conn: Conn, recipient_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT delivery_id, channel, address, shard FROM deliveries
           WHERE recipient_id = $1 AND status = 'digest'
           ORDER BY delivery_id FOR UPDATE SKIP LOCKED""",
        recipient_id,
    )
    return [dict(r) for r in rows]


async def digest_made(conn: Conn, digest: NewDelivery, carried_ids: Sequence[int]) -> int:
    (digest_id,) = await insert(conn, [digest])
    await conn.execute(
        """UPDATE deliveries SET status = 'digested', digest_id = $2
           WHERE delivery_id = ANY($1::bigint[])""",
        list(carried_ids),
        digest_id,
    )
    return digest_id


async def cancel_unsent(conn: Conn, recipient_id: str, template: str, source_prefix: str) -> int:
    """Cancel deliveries not yet sent of the recipient's ``template`` notifications whose
    source starts with ``source_prefix``; a delivery being sent right now is left alone."""
    status = await conn.execute(
        """UPDATE deliveries SET status = 'cancelled' WHERE delivery_id IN (
               SELECT d.delivery_id FROM deliveries d
               JOIN notifications n ON n.notification_id = d.notification_id
               WHERE d.recipient_id = $1 AND d.status IN ('pending', 'digest')
                 AND n.template = $2 AND starts_with(n.source_event_id, $3)
               FOR UPDATE OF d SKIP LOCKED)""",
        recipient_id,
        template,
        source_prefix,
    )
    return int(status.split()[-1])


async def for_notification(conn: Conn, notification_ids: Sequence[UUID]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT notification_id, channel, status, attempts, last_error, sent_at
           FROM deliveries WHERE notification_id = ANY($1::uuid[])
           ORDER BY notification_id, channel""",
        list(notification_ids),
    )
    return [dict(r) for r in rows]
