"""What notify keeps of other services' facts: rollouts and their stages, issues, training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Conn

# --- training -----------------------------------------------------------------------------


async def record_training(
    conn: Conn, staff_id: str, course_id: str, *, done: bool, at: datetime
) -> None:
    """Keep the best result: a later failure does not undo a completion."""
    await conn.execute(
        """INSERT INTO training (staff_id, course_id, done, completed_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (staff_id, course_id) DO UPDATE
           SET done = training.done OR EXCLUDED.done,
               completed_at = CASE WHEN training.done THEN training.completed_at
                                   ELSE EXCLUDED.completed_at END""",
        staff_id,
        course_id,
        done,
        at,
    )


async def completed_courses(
    conn: Conn, staff_ids: Sequence[str], course_ids: Sequence[str]
) -> dict[str, set[str]]:
    rows = await conn.fetch(
        """SELECT staff_id, course_id FROM training
           WHERE done AND staff_id = ANY($1::text[]) AND course_id = ANY($2::text[])""",
        list(staff_ids),
        list(course_ids),
    )
    done: dict[str, set[str]] = {}
    for r in rows:
        done.setdefault(r["staff_id"], set()).add(r["course_id"])
    return done


# --- rollouts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RolloutRow:
    rollout_id: str
    name: str
    owner_id: str | None
    status: str
    stage_index: int | None
    stage_name: str | None
    cohort_member_ids: list[str]
    gate_outcome: str | None
    stall_since: datetime | None


_ROLLOUT_COLUMNS = """rollout_id, name, owner_id, status, stage_index, stage_name,
                      cohort_member_ids, gate_outcome, stall_since"""


async def rollout_created(
    conn: Conn, rollout_id: str, name: str, owner_id: str, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO rollouts (rollout_id, name, owner_id, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (rollout_id) DO UPDATE SET name = EXCLUDED.name,
               owner_id = EXCLUDED.owner_id""",
        rollout_id,
        name,
        owner_id,
        at,
    )


async def rollout(conn: Conn, rollout_id: str, *, lock: bool = False) -> RolloutRow | None:
    row = await conn.fetchrow(
        f"SELECT {_ROLLOUT_COLUMNS} FROM rollouts WHERE rollout_id = $1"
        + (" FOR UPDATE" if lock else ""),
        rollout_id,
    )
    return RolloutRow(**dict(row)) if row else None


async def stage_started(
    conn: Conn, rollout_id: str, index: int, name: str, members: Sequence[str], at: datetime
) -> None:
    """The rollout runs stage ``index`` now (the rollout row appears if its creation was
    never seen: its name is then its id and its owner unknown)."""
    await conn.execute(
        """INSERT INTO rollout_stages (rollout_id, stage_index, name, member_ids, started_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (rollout_id, stage_index) DO UPDATE
           SET name = EXCLUDED.name, member_ids = EXCLUDED.member_ids,
               started_at = EXCLUDED.started_at""",
        rollout_id,
        index,
        name,
        list(members),
        at,
    )
    await conn.execute(
        """INSERT INTO rollouts (rollout_id, name, status, stage_index, stage_name,
                                 stage_started_at, cohort_member_ids, updated_at)
           VALUES ($1, $1, 'running', $2, $3, $4, $5, $4)
           ON CONFLICT (rollout_id) DO UPDATE
           SET status = 'running', stage_index = $2, stage_name = $3, stage_started_at = $4,
               cohort_member_ids = $5, gate_outcome = NULL, updated_at = $4""",
        rollout_id,
        index,
        name,
        at,
        list(members),
    )


async def returned_to_stage(conn: Conn, rollout_id: str, index: int | None, at: datetime) -> None:
    """After a rollback: back to stage ``index`` and the cohort it had, or to not started."""
    stage = None
    if index is not None:
        stage = await conn.fetchrow(
            """SELECT name, member_ids FROM rollout_stages
               WHERE rollout_id = $1 AND stage_index = $2""",
            rollout_id,
            index,
        )
    await conn.execute(
        """UPDATE rollouts
           SET status = $3, stage_index = $2, stage_name = $4, cohort_member_ids = $5,
               stage_started_at = CASE WHEN $2::integer IS NULL THEN NULL ELSE $6::timestamptz END,
               gate_outcome = NULL, updated_at = $6
           WHERE rollout_id = $1""",
        rollout_id,
        index,
        "created" if index is None else "running",
        stage["name"] if stage else None,
        list(stage["member_ids"]) if stage else [],
        at,
    )


async def set_gate(conn: Conn, rollout_id: str, stage: int, outcome: str) -> None:
    await conn.execute(
        "UPDATE rollouts SET gate_outcome = $3 WHERE rollout_id = $1 AND stage_index = $2",
        rollout_id,
        stage,
        outcome,
    )


async def set_stall(conn: Conn, rollout_id: str, since: datetime | None) -> None:
    await conn.execute(
        "UPDATE rollouts SET stall_since = $2 WHERE rollout_id = $1", rollout_id, since
    )


async def set_status(conn: Conn, rollout_id: str, status: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE rollouts SET status = $2, updated_at = $3 WHERE rollout_id = $1",
        rollout_id,
        status,
        at,
    )


# --- issues -------------------------------------------------------------------------------


async def issue_submitted(conn: Conn, issue: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO feedback (feedback_id, rollout_id, severity, category, staff_id,
                                 department_id, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (feedback_id) DO NOTHING""",
        issue["feedback_id"],
        issue["rollout_id"],
        issue["severity"],
        issue["category"],
        issue["staff_id"],
        issue["department_id"],
        issue["submitted_at"],
    )


async def issue_status(conn: Conn, feedback_id: str, status: str) -> dict[str, Any] | None:
    """Move an issue forward (never back: a late 'acknowledged' does not reopen a resolved
    issue); returns the issue, or None when notify never saw it."""
    row = await conn.fetchrow(
        """UPDATE feedback SET status = CASE
               WHEN status = 'resolved' OR (status = 'acknowledged' AND $2 = 'acknowledged')
               THEN status ELSE $2 END
           WHERE feedback_id = $1
           RETURNING feedback_id, rollout_id, category, staff_id""",
        feedback_id,
        status,
    )
    return dict(row) if row else None
