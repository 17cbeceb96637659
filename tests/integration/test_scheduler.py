"""Durable timers on the real database: on time, once, and still there after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared import db, scheduler
from shared.scheduler import Scheduler, Timer, TimerHandler
from shared.settings import Settings
from tests.support.polling import eventually

MakeScheduler = Callable[[dict[str, TimerHandler]], Scheduler]


@pytest.fixture
async def fired(pool: db.Pool) -> db.Pool:
    await pool.execute("CREATE TABLE fired (key text NOT NULL, at timestamptz NOT NULL)")
    return pool


async def record_firing(conn: db.Conn, timer: Timer) -> None:
    await conn.execute("INSERT INTO fired VALUES ($1, now())", timer.key)


async def fired_keys(pool: db.Pool) -> list[str]:
    return [r["key"] for r in await pool.fetch("SELECT key FROM fired ORDER BY at, key")]


@pytest.fixture
async def make_scheduler(
    pool: db.Pool, schema: str, settings: Settings
) -> AsyncIterator[MakeScheduler]:
    made: list[Scheduler] = []

    def make(handlers: dict[str, TimerHandler]) -> Scheduler:
        made.append(
            Scheduler(
                pool, handlers, url=settings.database_url or "", schema=schema, poll_interval_s=5
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def schedule(pool: db.Pool, key: str, due_in: timedelta, kind: str = "test") -> datetime:
    due_at = datetime.now(UTC) + due_in
    async with db.transaction(pool) as conn:
        await scheduler.schedule(conn, kind, key, due_at, {"n": 1})
    return due_at


async def test_fires_due_timers_once_and_leaves_future_ones(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    await schedule(fired, "due-1", timedelta(seconds=-2))
    await schedule(fired, "due-2", timedelta(seconds=-1))
    await schedule(fired, "later", timedelta(hours=1))
    runner = make_scheduler({"test": record_firing})
    while await runner.fire_one():
        pass
    assert await fired_keys(fired) == ["due-1", "due-2"]
    assert not await runner.fire_one()
    remaining = await fired.fetch("SELECT key FROM timers")
    assert [r["key"] for r in remaining] == ["later"]


async def test_two_instances_never_fire_a_timer_twice(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    for n in range(200):
        await schedule(fired, f"t{n:03}", timedelta(seconds=-1))
    first, second = make_scheduler({"test": record_firing}), make_scheduler({"test": record_firing})

    async def drain(runner: Scheduler) -> None:
        while await runner.fire_one():
            pass

    await asyncio.gather(drain(first), drain(second))
    keys = await fired_keys(fired)
    assert sorted(keys) == [f"t{n:03}" for n in range(200)]


async def test_running_scheduler_fires_on_time_after_a_restart(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    """Timers are rows: a scheduler started later (a restarted process) fires what is due."""
    await schedule(fired, "while-down", timedelta(milliseconds=-500))
    runner = make_scheduler({"test": record_firing})
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: _fired(fired, "while-down"), timeout=5)
        # The loop sleeps on a 5 s poll; the NOTIFY of the new row makes it fire on time.
        due_at = await schedule(fired, "soon", timedelta(milliseconds=300))
        await eventually(lambda: _fired(fired, "soon"), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    fired_at = await fired.fetchval("SELECT at FROM fired WHERE key = 'soon'")
    assert timedelta(0) <= fired_at - due_at < timedelta(seconds=2)


async def _fired(pool: db.Pool, key: str) -> bool:
    return key in await fired_keys(pool)


async def test_failing_handler_keeps_its_timer_with_backoff(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    async def broken(conn: db.Conn, timer: Timer) -> None:
        await conn.execute("INSERT INTO fired VALUES ('partial effect', now())")
        raise ValueError("cannot fire yet")

    await schedule(fired, "flaky", timedelta(seconds=-1))
    runner = make_scheduler({"test": broken})
    assert await runner.fire_one()
    row = await fired.fetchrow("SELECT attempts, last_error, due_at > now() AS later FROM timers")
    assert row is not None
    assert (row["attempts"], row["later"]) == (1, True)
    assert "cannot fire yet" in row["last_error"]
    assert await fired_keys(fired) == []  # the failed attempt's effect rolled back


async def test_rescheduling_the_same_timer_from_its_handler_keeps_it(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    """A repeating timer (an escalation level that repeats) re-arms itself while firing."""

    async def repeat(conn: db.Conn, timer: Timer) -> None:
        await record_firing(conn, timer)
        await scheduler.schedule(
            conn, timer.kind, timer.key, datetime.now(UTC) + timedelta(hours=1)
        )

    await schedule(fired, "repeating", timedelta(seconds=-1))
    runner = make_scheduler({"test": repeat})
    assert await runner.fire_one()
    assert not await runner.fire_one()
    assert await fired.fetchval("SELECT count(*) FROM timers WHERE key = 'repeating'") == 1
