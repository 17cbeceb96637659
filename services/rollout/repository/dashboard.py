"""SQL of the dashboard's reads that the API has no route for: open blockers with department
names, survey answers for the satisfaction chart, stage entries and the latest timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Conn


@dataclass(frozen=True, slots=True)
class Blocker:
    feedback_id: str
    severity: str
    status: str
    department: str | None
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class Rated:
    """One survey answer (the latest of its respondent), for the satisfaction chart."""

    department: str | None
    satisfied: bool
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class StageEntry:
    stage: int | None
    at: datetime


async def open_blockers(conn: Conn, rollout_id: str) -> list[Blocker]:
    """Unresolved issues, most severe and oldest first."""
    rows = await conn.fetch(
        """SELECT i.feedback_id, i.severity, i.status, COALESCE(d.name, i.department_id) AS dept,
                  i.submitted_at
           FROM issues i LEFT JOIN departments d USING (department_id)
           WHERE i.rollout_id = $1 AND i.status <> 'resolved'
           ORDER BY CASE i.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1
                                    WHEN 'medium' THEN 2 ELSE 3 END, i.submitted_at""",
        rollout_id,
    )
    return [Blocker(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def open_blocker_counts(conn: Conn, rollout_ids: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT rollout_id, count(*) FROM issues
           WHERE rollout_id = ANY($1::text[]) AND status <> 'resolved' GROUP BY rollout_id""",
        rollout_ids,
    )
    return {r[0]: int(r[1]) for r in rows}


async def ratings(conn: Conn, rollout_id: str) -> list[Rated]:
    rows = await conn.fetch(
        """SELECT COALESCE(d.name, a.department_id) AS dept, a.csat >= 4 AS satisfied,
                  a.submitted_at
           FROM survey_answers a LEFT JOIN departments d USING (department_id)
           WHERE a.rollout_id = $1 ORDER BY a.submitted_at""",
        rollout_id,
    )
    return [Rated(r[0], r[1], r[2]) for r in rows]


async def stage_entries(conn: Conn, rollout_id: str) -> list[StageEntry]:
    """When each stage visit began (advances and rollbacks), in order."""
    rows = await conn.fetch(
        """SELECT stage, at FROM timeline
           WHERE rollout_id = $1 AND kind IN ('stage_advanced', 'rolled_back') ORDER BY seq""",
        rollout_id,
    )
    return [StageEntry(r[0], r[1]) for r in rows]


async def recent_timeline(conn: Conn, rollout_id: str, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` timeline entries, newest first."""
    rows = await conn.fetch(
        """SELECT seq, at, kind, actor, stage, reason, evidence, data FROM timeline
           WHERE rollout_id = $1 ORDER BY seq DESC LIMIT $2""",
        rollout_id,
        limit,
    )
    return [dict(r) for r in rows]


async def department_names(conn: Conn, department_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT department_id, name FROM departments WHERE department_id = ANY($1::text[])",
        department_ids,
    )
    return {r[0]: r[1] for r in rows}
