"""SQL of the escalation projection: notify's cases about a rollout, as its events told them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.db import Conn

CaseStatus = Literal["open", "acknowledged", "closed"]


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One escalation.* event, reduced to what the projection keeps."""

    case_id: str
    rollout_id: str
    feedback_id: str | None
    policy: str
    status: CaseStatus
    at: datetime
    level: int = 0
    reason: str = ""
    targets: tuple[str, ...] = ()
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class OpenCase:
    case_id: str
    rollout_id: str
    feedback_id: str | None
    policy: str
    status: CaseStatus
    level: int
    reason: str
    targets: list[str]
    opened_at: datetime
    acknowledged_by: str | None
    updated_at: datetime


# Status and level only move forward: events of one case share a partition and arrive in
# order, but a redelivered or replayed older event must not undo a newer one.
_RANK = "CASE {s} WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END"


async def apply(conn: Conn, change: CaseChange) -> None:
    await conn.execute(
        f"""INSERT INTO escalations AS e (case_id, rollout_id, feedback_id, policy, status, level,
                                    reason, targets, opened_at, acknowledged_by, closed_reason,
                                    updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9)
           ON CONFLICT (case_id) DO UPDATE SET
             status = CASE WHEN {_RANK.format(s="EXCLUDED.status")} > {_RANK.format(s="e.status")}
                           THEN EXCLUDED.status ELSE e.status END,
             level = GREATEST(e.level, EXCLUDED.level),
             reason = CASE WHEN e.reason = '' THEN EXCLUDED.reason ELSE e.reason END,
             targets = CASE WHEN EXCLUDED.level >= e.level AND EXCLUDED.targets <> '[]'::jsonb
                            THEN EXCLUDED.targets ELSE e.targets END,
             opened_at = LEAST(e.opened_at, EXCLUDED.opened_at),
             acknowledged_by = COALESCE(e.acknowledged_by, EXCLUDED.acknowledged_by),
             closed_reason = CASE WHEN EXCLUDED.status = 'closed'
                                  THEN EXCLUDED.closed_reason ELSE e.closed_reason END,
             updated_at = GREATEST(e.updated_at, EXCLUDED.updated_at)""",
        change.case_id,
        change.rollout_id,
        change.feedback_id,
        change.policy,
        change.status,
        change.level,
        change.reason if change.status != "closed" else "",
        list(change.targets),
        change.at,
        change.actor if change.status == "acknowledged" else None,
        change.reason if change.status == "closed" else "",
    )


async def open_cases(conn: Conn, rollout_id: str) -> list[OpenCase]:
    """Cases not closed yet, oldest first."""
    rows = await conn.fetch(
        """SELECT case_id, rollout_id, feedback_id, policy, status, level, reason, targets,
                  opened_at, acknowledged_by, updated_at
           FROM escalations WHERE rollout_id = $1 AND status <> 'closed'
           ORDER BY opened_at, case_id""",
        rollout_id,
    )
    return [OpenCase(**dict(row)) for row in rows]


async def open_counts(conn: Conn, rollout_ids: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT rollout_id, count(*) AS n FROM escalations
           WHERE rollout_id = ANY($1::text[]) AND status <> 'closed' GROUP BY rollout_id""",
        rollout_ids,
    )
    return {row["rollout_id"]: int(row["n"]) for row in rows}
