"""All SQL of the feedback service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db import Conn


async def insert_feedback(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO feedback (feedback_id, rollout_id, kind, csat, nps, severity, category, text,
                                 anonymous, staff_id, department_id, respondent_key, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        row["feedback_id"],
        row["rollout_id"],
        row["kind"],
        row["csat"],
        row["nps"],
        row["severity"],
        row["category"],
        row["text"],
        row["anonymous"],
        row["staff_id"],
        row["department_id"],
        row["respondent_key"],
        row["submitted_at"],
    )


async def get_feedback(conn: Conn, feedback_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM feedback WHERE feedback_id = $1", feedback_id)
    return dict(row) if row else None


async def staff_department(conn: Conn, staff_id: str) -> str | None:
    department: str | None = await conn.fetchval(
        "SELECT department_id FROM staff WHERE staff_id = $1", staff_id
    )
    return department


async def record_department(
    conn: Conn, staff_id: str, department_id: str | None, at: datetime
) -> None:
    """Newer directory facts win; a replayed older event changes nothing."""
    await conn.execute(
        """INSERT INTO staff (staff_id, department_id, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (staff_id) DO UPDATE
           SET department_id = EXCLUDED.department_id, updated_at = EXCLUDED.updated_at
           WHERE staff.updated_at <= EXCLUDED.updated_at""",
        staff_id,
        department_id,
        at,
    )
