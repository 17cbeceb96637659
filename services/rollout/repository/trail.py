"""SQL of what a rollout keeps of its decisions: approvers' votes and the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.rollout.domain.approvals import Vote
from shared.db import Conn

# --- approvals ------------------------------------------------------------------------------


async def record_vote(conn: Conn, rollout_id: str, epoch: int, vote: Vote) -> None:
    await conn.execute(
        """INSERT INTO approvals (rollout_id, epoch, approver_id, decision, comment, at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (rollout_id, epoch, approver_id) DO UPDATE
           SET decision = EXCLUDED.decision, comment = EXCLUDED.comment, at = EXCLUDED.at""",
        rollout_id,
        epoch,
        vote.approver_id,
        vote.decision,
        vote.comment,
        vote.at,
    )


async def votes(conn: Conn, rollout_id: str, epoch: int) -> list[Vote]:
    rows = await conn.fetch(
        """SELECT approver_id, decision, at, comment FROM approvals
           WHERE rollout_id = $1 AND epoch = $2 ORDER BY at, approver_id""",
        rollout_id,
        epoch,
    )
    return [Vote(r["approver_id"], r["decision"], r["at"], r["comment"]) for r in rows]


# --- timeline -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    rollout_id: str
    at: datetime
    kind: str
    actor: str
    stage: int | None
    reason: str = ""
    evidence: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    event_id: str | None = None


async def append_timeline(conn: Conn, entry: Entry) -> None:
    await conn.execute(
        """INSERT INTO timeline (rollout_id, at, kind, actor, stage, reason, evidence, data,
                                 event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        entry.rollout_id,
        entry.at,
        entry.kind,
        entry.actor,
        entry.stage,
        entry.reason,
        entry.evidence,
        entry.data or {},
        entry.event_id,
    )


async def timeline(conn: Conn, rollout_id: str, *, after: int, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT seq, at, kind, actor, stage, reason, evidence, data, event_id FROM timeline
           WHERE rollout_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""",
        rollout_id,
        after,
        limit,
    )
    return rows
