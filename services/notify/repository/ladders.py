"""Training reminder ladders: one per (rollout, stage whose cohort must get trained)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Conn


@dataclass(frozen=True, slots=True)
class Ladder:
    rollout_id: str
    stage_index: int
    started_at: datetime
    member_ids: list[str]
    course_ids: list[str]
    context: dict[str, Any]
    next_step: int
    status: str


async def start_ladder(conn: Conn, ladder: Ladder) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO reminder_ladders (rollout_id, stage_index, started_at, member_ids,
                                         course_ids, context, next_step, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (rollout_id, stage_index) DO UPDATE
           SET started_at = EXCLUDED.started_at, member_ids = EXCLUDED.member_ids,
               course_ids = EXCLUDED.course_ids, context = EXCLUDED.context,
               next_step = EXCLUDED.next_step, status = EXCLUDED.status
           RETURNING true""",
        ladder.rollout_id,
        ladder.stage_index,
        ladder.started_at,
        ladder.member_ids,
        ladder.course_ids,
        ladder.context,
        ladder.next_step,
        ladder.status,
    )
    return inserted is True


async def ladder(conn: Conn, rollout_id: str, stage_index: int) -> Ladder | None:
    row = await conn.fetchrow(
        """SELECT rollout_id, stage_index, started_at, member_ids, course_ids, context,
                  next_step, status
           FROM reminder_ladders WHERE rollout_id = $1 AND stage_index = $2 FOR UPDATE""",
        rollout_id,
        stage_index,
    )
    return Ladder(**dict(row)) if row else None


async def ladder_moved(conn: Conn, rollout_id: str, stage_index: int, next_step: int) -> None:
    await conn.execute(
        """UPDATE reminder_ladders SET next_step = $3 WHERE rollout_id = $1 AND stage_index = $2""",
        rollout_id,
        stage_index,
        next_step,
    )


async def ladder_status(conn: Conn, rollout_id: str, stage_index: int, status: str) -> None:
    await conn.execute(
        """UPDATE reminder_ladders SET status = $3 WHERE rollout_id = $1 AND stage_index = $2""",
        rollout_id,
        stage_index,
        status,
    )


async def active_ladders(conn: Conn, rollout_id: str) -> list[int]:
    """Stage indexes of the rollout's active ladders (not locked: timers are locked first)."""
    rows = await conn.fetch(
        """SELECT stage_index FROM reminder_ladders WHERE rollout_id = $1 AND status = 'active'
           ORDER BY stage_index""",
        rollout_id,
    )
    return [r["stage_index"] for r in rows]


async def ladders_of(conn: Conn, staff_id: str) -> list[Ladder]:
    rows = await conn.fetch(
        """SELECT rollout_id, stage_index, started_at, member_ids, course_ids, context,
                  next_step, status
           FROM reminder_ladders WHERE status = 'active' AND member_ids @> ARRAY[$1]""",
        staff_id,
    )
    return [Ladder(**dict(r)) for r in rows]
