"""The stall clock: a stage whose gate has not passed for longer than ``ONRAMP_STALL_DEADLINE``
opens a ``stalled`` case.

The clock runs while a stage's gate does not pass: it starts when the stage starts (or the gate
stops passing, or the rollout resumes, or a rollback returns to a stage), and stops when the gate
passes or the rollout pauses or completes. It is the durable timer ``stall/<rollout id>``;
handlers take it first (:func:`take_timer`) and set it from the clock's new state
(:func:`run_clock`).
"""

from __future__ import annotations

from datetime import datetime

from services.notify.handlers import cases
from services.notify.repository import projections
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn
from shared.scheduler import Timer

STALL_TIMER = "stall"


async def take_timer(conn: Conn, rollout_id: str) -> None:
    await scheduler.cancel(conn, STALL_TIMER, rollout_id)


async def run_clock(
    conn: Conn, deps: Deps, rollout_id: str, stage: int | None, since: datetime | None
) -> None:
    """Set the clock: running since ``since`` for ``stage``, or stopped (None)."""
    await projections.set_stall(conn, rollout_id, since)
    if since is not None and stage is not None:
        due = since + deps.settings.stall_deadline
        payload = {"stage": stage, "since": since.isoformat()}
        await scheduler.schedule(conn, STALL_TIMER, rollout_id, due, payload)


async def fire_stall(deps: Deps, conn: Conn, timer: Timer) -> None:
    """Timer ``stall/<rollout>``: the gate has not passed for the whole deadline."""
    row = await projections.rollout(conn, timer.key, lock=True)
    stage = int(timer.payload["stage"])
    since = datetime.fromisoformat(timer.payload["since"])
    if row is None or row.status != "running" or row.stage_index != stage:
        return
    if row.gate_outcome == "pass" or row.stall_since != since:
        return
    now = deps.clock()
    facts = {
        "rollout_id": row.rollout_id,
        "rollout_name": row.name,
        "stage_index": stage,
        "stage_name": row.stage_name or f"stage {stage + 1}",
        "stalled_for_s": (now - since).total_seconds(),
    }
    opening = cases.Opening(
        kind="stalled",
        dedupe_key=f"stalled:{row.rollout_id}:{stage}:{since.isoformat()}",
        reason=f"the gate of stage {stage + 1} has not passed since {since.isoformat()}",
        facts=facts,
        opened_at=now,
        rollout_id=row.rollout_id,
        stage_index=stage,
    )
    await projections.set_stall(conn, row.rollout_id, None)  # a case follows it from here
    await cases.open_case(conn, deps, opening)
