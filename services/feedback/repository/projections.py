"""SQL of the projections: rollouts known from onramp.rollout, the directory's departments."""

from __future__ import annotations

from datetime import datetime

from services.feedback.repository.feedback import Row
from shared.db import Conn


async def rollout(conn: Conn, rollout_id: str) -> Row | None:
    row = await conn.fetchrow("SELECT * FROM rollouts WHERE rollout_id = $1", rollout_id)
    return dict(row) if row else None


async def remember_rollout(conn: Conn, rollout_id: str, name: str | None, at: datetime) -> None:
    """Any rollout event makes its rollout known; only rollout.created names it."""
    await conn.execute(
        """INSERT INTO rollouts (rollout_id, name, known_since) VALUES ($1, $2, $3)
           ON CONFLICT (rollout_id) DO UPDATE
           SET name = coalesce(EXCLUDED.name, rollouts.name),
               known_since = least(rollouts.known_since, EXCLUDED.known_since)""",
        rollout_id,
        name,
        at,
    )


async def record_person(
    conn: Conn, person_key: str, department_id: str | None, at: datetime
) -> None:
    """Newer directory facts win; a replayed older event changes nothing."""
    await conn.execute(
        """INSERT INTO people (person_key, department_id, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (person_key) DO UPDATE
           SET department_id = EXCLUDED.department_id, updated_at = EXCLUDED.updated_at
           WHERE people.updated_at <= EXCLUDED.updated_at""",
        person_key,
        department_id,
        at,
    )


async def record_department(conn: Conn, department_id: str, name: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO departments (department_id, name, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (department_id) DO UPDATE
           SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
           WHERE departments.updated_at <= EXCLUDED.updated_at""",
        department_id,
        name,
        at,
    )
