"""The training reminder ladder (rules in ``domain.reminders``) and its timer.

Lock order: the ladder's timer row, then the ladder row, then delivery shard rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.notify.domain import reminders
from services.notify.handlers import fanout
from services.notify.repository import directory, ladders, projections
from services.notify.repository.ladders import Ladder
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn
from shared.scheduler import Timer

REMINDER_TIMER = "reminder"
SOURCE_TYPE = "onramp.notify.training_reminder"


def _key(rollout_id: str, stage_index: int) -> str:
    return f"{rollout_id}:{stage_index}"


def source_prefix(rollout_id: str, stage_index: int) -> str:
    """What the source ids of one ladder's notifications start with."""
    return f"reminder:{rollout_id}:{stage_index}:"


def _steps(deps: Deps) -> list[Any]:
    return reminders.step_offsets(deps.settings.reminder_offsets, deps.settings.reminder_max_count)


async def start(
    conn: Conn,
    deps: Deps,
    *,
    rollout_id: str,
    stage_index: int,
    started_at: datetime,
    members: Sequence[str],
    courses: Sequence[str],
    context: dict[str, Any],
) -> None:
    """Start (or restart) the ladder for the cohort of ``stage_index``."""
    key = _key(rollout_id, stage_index)
    await scheduler.cancel(conn, REMINDER_TIMER, key)
    steps = _steps(deps)
    if not steps or not courses or not members:
        return
    ladder = Ladder(
        rollout_id, stage_index, started_at, list(members), list(courses), context, 0, "active"
    )
    await ladders.start_ladder(conn, ladder)
    payload = {"rollout_id": rollout_id, "stage": stage_index, "step": 0}
    await scheduler.schedule(conn, REMINDER_TIMER, key, started_at + steps[0], payload)


async def stop(conn: Conn, rollout_id: str, *, keep: range) -> None:
    """Cancel the rollout's active ladders whose stage is not in ``keep``."""
    for stage_index in await ladders.active_ladders(conn, rollout_id):
        if stage_index not in keep:
            await scheduler.cancel(conn, REMINDER_TIMER, _key(rollout_id, stage_index))
            await ladders.ladder_status(conn, rollout_id, stage_index, "cancelled")


async def fire_step(deps: Deps, conn: Conn, timer: Timer) -> None:
    """Timer ``reminder/<rollout>:<stage>``: remind whoever is still untrained, or, after the
    last reminder, send their managers the digest."""
    rollout_id, stage_index = timer.payload["rollout_id"], int(timer.payload["stage"])
    step = int(timer.payload["step"])
    ladder = await ladders.ladder(conn, rollout_id, stage_index)
    if ladder is None or ladder.status != "active" or ladder.next_step != step:
        return
    inactive = await directory.inactive_among(conn, ladder.member_ids)
    members = [m for m in ladder.member_ids if m not in inactive]
    done = await projections.completed_courses(conn, members, ladder.course_ids)
    gaps = reminders.missing_courses(members, ladder.course_ids, done)
    steps, max_count = _steps(deps), deps.settings.reminder_max_count
    following = step + 1
    if gaps and following < len(steps):
        await ladders.ladder_moved(conn, rollout_id, stage_index, following)
        payload = {**timer.payload, "step": following}
        due = ladder.started_at + steps[following]
        await scheduler.schedule(conn, REMINDER_TIMER, timer.key, due, payload)
    else:
        await ladders.ladder_status(conn, rollout_id, stage_index, "done")
    if not gaps:
        return
    if reminders.is_digest_step(step, max_count):
        known = {p["staff_id"]: p for p in await directory.people(conn, sorted(gaps))}
        managers = {s: known[s]["manager_id"] if s in known else None for s in gaps}
        names = {s: known[s]["name"] for s in gaps if s in known and known[s]["name"]}
        context = {**ladder.context, "reminders": max_count}
        drafts = reminders.manager_digests(gaps, managers, names, context)
    else:
        drafts = reminders.reminders(gaps, ladder.context, step, max_count)
    source = fanout.Source(
        f"{source_prefix(rollout_id, stage_index)}{step}", SOURCE_TYPE, rollout_id
    )
    await fanout.publish(conn, deps, source, drafts)
