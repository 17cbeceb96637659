"""SQL of rollouts, their members, approvals and timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.rollout.domain.cohorts import Person
from services.rollout.domain.lifecycle import AdvanceRequest, Pause, Rollout
from services.rollout.domain.plan import Plan
from shared.db import Conn

_COLUMNS = """rollout_id, name, description, system, owner_id, plan, status, stage, epoch,
    stage_started_at, gate_outcome, gate_evaluated_at, pause, guardrail_ack, advance_request,
    created_by, created_at, updated_at, completed_at"""

# Columns a state change may set (names are never taken from input).
_MUTABLE = frozenset(
    {
        "status",
        "stage",
        "epoch",
        "stage_started_at",
        "gate_outcome",
        "gate_evaluated_at",
        "pause",
        "guardrail_ack",
        "advance_request",
        "completed_at",
    }
)


def _rollout(row: asyncpg.Record) -> Rollout:
    pause, request = row["pause"], row["advance_request"]
    return Rollout(
        rollout_id=row["rollout_id"],
        name=row["name"],
        description=row["description"],
        system=row["system"],
        owner_id=row["owner_id"],
        plan=Plan.model_validate(row["plan"]),
        status=row["status"],
        stage=row["stage"],
        epoch=row["epoch"],
        started_at=row["stage_started_at"],
        gate_outcome=row["gate_outcome"],
        gate_evaluated_at=row["gate_evaluated_at"],
        pause=None if pause is None else _pause(pause),
        guardrail_ack=row["guardrail_ack"],
        request=None
        if request is None
        else AdvanceRequest(request["requested_by"], datetime.fromisoformat(request["at"])),
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
    )


def _pause(stored: dict[str, Any]) -> Pause:
    return Pause(
        cause=stored["cause"],
        reason=stored["reason"],
        actor=stored["actor"],
        at=datetime.fromisoformat(stored["at"]),
        guardrail=stored.get("guardrail"),
    )


def pause_json(pause: Pause | None) -> dict[str, Any] | None:
    if pause is None:
        return None
    return {
        "cause": pause.cause,
        "reason": pause.reason,
        "actor": pause.actor,
        "at": pause.at.isoformat(),
        "guardrail": pause.guardrail,
    }


def request_json(request: AdvanceRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {"requested_by": request.requested_by, "at": request.at.isoformat()}


@dataclass(frozen=True, slots=True)
class NewRollout:
    rollout_id: str
    name: str
    description: str
    system: str
    owner_id: str
    plan: Plan
    created_by: str
    at: datetime


async def insert_rollout(conn: Conn, new: NewRollout) -> Rollout | None:
    """None when the id is taken."""
    row = await conn.fetchrow(
        f"""INSERT INTO rollouts (rollout_id, name, description, system, owner_id, plan, status,
                                  created_by, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7, $8, $8)
            ON CONFLICT (rollout_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        new.rollout_id,
        new.name,
        new.description,
        new.system,
        new.owner_id,
        new.plan.model_dump(mode="json"),
        new.created_by,
        new.at,
    )
    return None if row is None else _rollout(row)


async def get_rollout(conn: Conn, rollout_id: str, *, lock: bool = False) -> Rollout | None:
    """``lock`` takes the row lock that serialises every change of one rollout, so that its
    events are staged in commit order."""
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE rollout_id = $1{suffix}", rollout_id
    )
    return None if row is None else _rollout(row)


async def try_lock(conn: Conn, rollout_id: str) -> bool | None:
    """Lock the rollout row without waiting: True when locked, False when another transaction
    holds it, None when there is no such rollout.

    Timers lock their timer row first and the rollout second, commands the other way round;
    a timer that waited here could deadlock with a command, so it steps aside instead.
    """
    locked = await conn.fetchval(
        "SELECT true FROM rollouts WHERE rollout_id = $1 FOR UPDATE SKIP LOCKED", rollout_id
    )
    if locked:
        return True
    exists: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM rollouts WHERE rollout_id = $1)", rollout_id
    )
    return False if exists else None


async def hold_pending_request(conn: Conn, kind: str, rollout_id: str) -> bool:
    """Lock a due evaluation request of ``rollout_id`` that no scheduler is firing, so that it
    cannot fire before the caller commits; False when there is none.

    Reads the plumbing's ``timers`` table (keys are ``<rollout id>@<request id>``): reusing a
    pending request is what keeps a burst of events to one evaluation, and SKIP LOCKED is what
    keeps a consumer from waiting for an evaluation in progress.
    """
    found = await conn.fetchval(
        """SELECT id FROM timers
           WHERE kind = $1 AND split_part(key, '@', 1) = $2
             AND due_at <= now() + interval '1 second'
           LIMIT 1 FOR UPDATE SKIP LOCKED""",
        kind,
        rollout_id,
    )
    return found is not None


async def list_rollouts(
    conn: Conn, *, status: str | None, limit: int, offset: int
) -> list[Rollout]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM rollouts WHERE $1::text IS NULL OR status = $1
            ORDER BY created_at DESC, rollout_id LIMIT $2 OFFSET $3""",
        status,
        limit,
        offset,
    )
    return [_rollout(r) for r in rows]


async def update_rollout(conn: Conn, rollout_id: str, at: datetime, **changes: Any) -> None:
    unknown = changes.keys() - _MUTABLE
    if unknown:
        raise ValueError(f"not a mutable rollout column: {sorted(unknown)}")
    names = sorted(changes)
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=3))
    await conn.execute(
        f"UPDATE rollouts SET updated_at = $2, {assignments} WHERE rollout_id = $1",
        rollout_id,
        at,
        *(changes[name] for name in names),
    )


async def active_rollout_ids(conn: Conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT rollout_id FROM rollouts WHERE status IN ('running', 'paused') ORDER BY 1"
    )
    return [r["rollout_id"] for r in rows]


async def is_active(conn: Conn, rollout_id: str) -> bool:
    active: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM rollouts
                          WHERE rollout_id = $1 AND status IN ('running', 'paused'))""",
        rollout_id,
    )
    return active


# --- members --------------------------------------------------------------------------------


async def members(conn: Conn, rollout_id: str) -> list[tuple[int, Person]]:
    """(stage, person) for everyone exposed so far; people gone from the directory count as
    inactive."""
    rows = await conn.fetch(
        """SELECT m.stage, m.staff_id, s.department_id, coalesce(s.name, '') AS name,
                  coalesce(s.active, false) AS active
           FROM rollout_members m LEFT JOIN staff s USING (staff_id)
           WHERE m.rollout_id = $1""",
        rollout_id,
    )
    return [(r[0], Person(r[1], r[2], r[3], r[4])) for r in rows]


async def add_members(conn: Conn, rollout_id: str, stage: int, staff_ids: Sequence[str]) -> None:
    await conn.execute(
        """INSERT INTO rollout_members (rollout_id, staff_id, stage)
           SELECT $1, unnest($3::text[]), $2
           ON CONFLICT (rollout_id, staff_id) DO NOTHING""",
        rollout_id,
        stage,
        list(staff_ids),
    )


async def remove_members(conn: Conn, rollout_id: str, stage: int) -> None:
    await conn.execute(
        "DELETE FROM rollout_members WHERE rollout_id = $1 AND stage = $2", rollout_id, stage
    )
