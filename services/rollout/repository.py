"""All SQL of the rollout service."""

from __future__ import annotations

from datetime import datetime

from shared.db import Conn


async def count_feedback(conn: Conn, rollout_id: str) -> None:
    await conn.execute(
        """INSERT INTO feedback_counts (rollout_id, received) VALUES ($1, 1)
           ON CONFLICT (rollout_id) DO UPDATE
           SET received = feedback_counts.received + 1, updated_at = now()""",
        rollout_id,
    )


async def feedback_received(conn: Conn, rollout_id: str) -> int:
    received: int | None = await conn.fetchval(
        "SELECT received FROM feedback_counts WHERE rollout_id = $1", rollout_id
    )
    return received or 0


async def upsert_staff(
    conn: Conn, staff_id: str, department_id: str | None, active: bool, at: datetime
) -> None:
    """Newer directory facts win; a replayed older event changes nothing."""
    await conn.execute(
        """INSERT INTO staff (staff_id, department_id, active, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (staff_id) DO UPDATE
           SET department_id = EXCLUDED.department_id, active = EXCLUDED.active,
               updated_at = EXCLUDED.updated_at
           WHERE staff.updated_at <= EXCLUDED.updated_at""",
        staff_id,
        department_id,
        active,
        at,
    )


async def upsert_department(
    conn: Conn, department_id: str, name: str, head_staff_id: str | None, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO departments (department_id, name, head_staff_id, updated_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (department_id) DO UPDATE
           SET name = EXCLUDED.name, head_staff_id = EXCLUDED.head_staff_id,
               updated_at = EXCLUDED.updated_at
           WHERE departments.updated_at <= EXCLUDED.updated_at""",
        department_id,
        name,
        head_staff_id,
        at,
    )
