"""Escalation policies, cases and each case's log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notify.domain import escalation
from services.notify.domain.escalation import Policy, Status, Step
from shared.db import Conn

# --- policies -----------------------------------------------------------------------------


async def stored_policies(conn: Conn, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT name, policy, version, updated_at, updated_by FROM escalation_policies
           WHERE name = ANY($1::text[])""",
        list(names),
    )
    return {r["name"]: dict(r) for r in rows}


async def put_policy(conn: Conn, policy: Policy, by: str, at: datetime) -> int:
    version: int = await conn.fetchval(
        """INSERT INTO escalation_policies (name, policy, version, updated_at, updated_by)
           VALUES ($1, $2, 1, $3, $4)
           ON CONFLICT (name) DO UPDATE
           SET policy = EXCLUDED.policy, version = escalation_policies.version + 1,
               updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
           RETURNING version""",
        policy.name,
        escalation.to_json(policy),
        at,
        by,
    )
    return version


# --- cases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    case_id: UUID
    kind: escalation.CaseKind
    policy: Policy
    status: Status
    reason: str
    facts: dict[str, Any]
    rollout_id: str | None
    stage_index: int | None
    feedback_id: str | None
    submitter_id: str | None
    department_id: str | None
    opened_at: datetime
    next_step: Step | None

    @property
    def case_type(self) -> escalation.CaseType:
        return escalation.CASE_TYPES[self.kind]


_CASE_COLUMNS = """case_id, kind, policy_name, policy, status, reason, facts, rollout_id,
                   stage_index, feedback_id, submitter_id, department_id, opened_at,
                   next_loop, next_level"""


def _case(row: Any) -> Case:
    values = dict(row)
    loop, level = values.pop("next_loop"), values.pop("next_level")
    values["policy"] = escalation.from_json(values.pop("policy_name"), values["policy"])
    return Case(**values, next_step=None if loop is None else Step(loop, level))


async def insert_case(conn: Conn, case: Case, dedupe_key: str) -> bool:
    """False when a case with ``dedupe_key`` exists already."""
    step = case.next_step
    inserted = await conn.fetchval(
        """INSERT INTO cases (case_id, kind, dedupe_key, policy_name, policy, status, reason,
                              facts, rollout_id, stage_index, feedback_id, submitter_id,
                              department_id, opened_at, next_loop, next_level)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
           ON CONFLICT (dedupe_key) DO NOTHING RETURNING true""",
        case.case_id,
        case.kind,
        dedupe_key,
        case.policy.name,
        escalation.to_json(case.policy),
        case.status,
        case.reason,
        case.facts,
        case.rollout_id,
        case.stage_index,
        case.feedback_id,
        case.submitter_id,
        case.department_id,
        case.opened_at,
        step.loop if step else None,
        step.level if step else None,
    )
    return inserted is True


async def lock_case(conn: Conn, case_id: UUID) -> Case | None:
    row = await conn.fetchrow(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = $1 FOR UPDATE", case_id
    )
    return _case(row) if row else None


async def open_case_ids(
    conn: Conn,
    *,
    feedback_id: str | None = None,
    rollout_id: str | None = None,
    kinds: Sequence[str] = (),
    stage_from: int | None = None,
    stage: int | None = None,
) -> list[UUID]:
    """Cases not closed yet that match every filter given (not locked: see handlers.cases)."""
    rows = await conn.fetch(
        """SELECT case_id FROM cases
           WHERE status <> 'closed'
             AND ($1::text IS NULL OR feedback_id = $1)
             AND ($2::text IS NULL OR rollout_id = $2)
             AND (cardinality($3::text[]) = 0 OR kind = ANY($3::text[]))
             AND ($4::integer IS NULL OR stage_index >= $4)
             AND ($5::integer IS NULL OR stage_index = $5)
           ORDER BY case_id""",
        feedback_id,
        rollout_id,
        list(kinds),
        stage_from,
        stage,
    )
    return [r["case_id"] for r in rows]


async def set_next(conn: Conn, case_id: UUID, step: Step | None, due: datetime | None) -> None:
    await conn.execute(
        "UPDATE cases SET next_loop = $2, next_level = $3, next_due_at = $4 WHERE case_id = $1",
        case_id,
        step.loop if step else None,
        step.level if step else None,
        due,
    )


async def acknowledged(conn: Conn, case_id: UUID, actor: str, at: datetime) -> None:
    await conn.execute(
        """UPDATE cases SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2
           WHERE case_id = $1""",
        case_id,
        actor,
        at,
    )


async def closed(conn: Conn, case_id: UUID, actor: str, at: datetime, reason: str) -> None:
    await conn.execute(
        """UPDATE cases SET status = 'closed', closed_at = $3, closed_by = $2, close_reason = $4,
                            next_loop = NULL, next_level = NULL, next_due_at = NULL
           WHERE case_id = $1""",
        case_id,
        actor,
        at,
        reason,
    )


@dataclass(frozen=True, slots=True)
class LogEntry:
    action: str
    at: datetime
    step: Step | None = None
    due_at: datetime | None = None
    targets: Sequence[str] = ()
    recipients: Sequence[str] = ()
    unresolved: Sequence[str] = ()
    actor: str | None = None
    detail: str = ""


async def log(conn: Conn, case_id: UUID, entry: LogEntry) -> None:
    await conn.execute(
        """INSERT INTO case_log (case_id, at, action, loop, level, due_at, targets, recipients,
                                 unresolved, actor, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        case_id,
        entry.at,
        entry.action,
        entry.step.loop if entry.step else None,
        entry.step.level if entry.step else None,
        entry.due_at,
        list(entry.targets),
        list(entry.recipients),
        list(entry.unresolved),
        entry.actor,
        entry.detail,
    )


# --- reading for the API ------------------------------------------------------------------

_LIST_COLUMNS = """case_id, kind, policy_name, status, reason, rollout_id, stage_index,
                   feedback_id, opened_at, acknowledged_at, acknowledged_by, closed_at,
                   closed_by, close_reason, next_loop, next_level, next_due_at"""


async def get_case(conn: Conn, case_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_LIST_COLUMNS} FROM cases WHERE case_id = $1", case_id)
    return dict(row) if row else None


async def list_cases(
    conn: Conn,
    *,
    status: str | None,
    kind: str | None,
    rollout_id: str | None,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_LIST_COLUMNS} FROM cases
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)
              AND ($3::text IS NULL OR rollout_id = $3)
              AND ($5::timestamptz IS NULL OR (opened_at, case_id) < ($5, $6::uuid))
            ORDER BY opened_at DESC, case_id DESC LIMIT $4""",
        status,
        kind,
        rollout_id,
        limit,
        before[0] if before else None,
        before[1] if before else None,
    )
    return [dict(r) for r in rows]


async def case_log(conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT at, action, loop, level, due_at, targets, recipients, unresolved, actor, detail
           FROM case_log WHERE case_id = $1 ORDER BY id""",
        case_id,
    )
    return [dict(r) for r in rows]
