"""A table of effects for consumer tests: each handled record writes one row, so a test can
count what was applied and see anything applied twice."""

from __future__ import annotations

from typing import Any

from shared import db
from shared.events import CloudEvent


async def create_effects(pool: db.Pool) -> db.Pool:
    await pool.execute("CREATE TABLE effects (event_id text NOT NULL, staff_id text NOT NULL)")
    return pool


async def record_effect(conn: db.Conn, event: CloudEvent[Any]) -> None:
    await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.data.staff_id)


async def effect_ids(pool: db.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM effects ORDER BY event_id")
    return [r["event_id"] for r in rows]
