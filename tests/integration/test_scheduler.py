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


async def test_a_batch_fires_in_due_order_and_a_failure_keeps_only_its_own_timer(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    async def picky(conn: db.Conn, timer: Timer) -> None:
        await record_firing(conn, timer)
        if timer.key == "b-bad":
            raise ValueError("not this one")

    for n, key in enumerate(["b-1", "b-bad", "b-2", "b-3"]):
        await schedule(fired, key, timedelta(seconds=-10 + n))
    runner = make_scheduler({"test": picky})
    assert await runner.fire_due(10) == 4
    rows = await fired.fetch("SELECT key FROM fired ORDER BY at, ctid")
    assert [r["key"] for r in rows] == ["b-1", "b-2", "b-3"]
    left = await fired.fetchrow("SELECT key, attempts FROM timers")
    assert left is not None
    assert (left["key"], left["attempts"]) == ("b-bad", 1)


async def test_a_timer_cancelled_or_moved_by_an_earlier_handler_of_the_batch_stays_so(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    """Batching changes nothing: as if each timer had fired in a transaction of its own."""

    async def first(conn: db.Conn, timer: Timer) -> None:
        await record_firing(conn, timer)
        await scheduler.cancel(conn, "test", "cancelled")
        await scheduler.schedule(conn, "test", "moved", datetime.now(UTC) + timedelta(hours=1))

    await schedule(fired, "first", timedelta(seconds=-3), kind="first")
    await schedule(fired, "cancelled", timedelta(seconds=-2))
    await schedule(fired, "moved", timedelta(seconds=-1))
    runner = make_scheduler({"first": first, "test": record_firing})
    assert await runner.fire_due(10) == 3
    assert await fired_keys(fired) == ["first"]
    left = await fired.fetch("SELECT key FROM timers")
    assert [r["key"] for r in left] == ["moved"]


async def test_two_instances_firing_batches_never_fire_a_timer_twice(
    fired: db.Pool, make_scheduler: MakeScheduler
) -> None:
    for n in range(300):
        await schedule(fired, f"t{n:03}", timedelta(seconds=-1))
    first, second = make_scheduler({"test": record_firing}), make_scheduler({"test": record_firing})

    async def drain(runner: Scheduler) -> None:
        while await runner.fire_due(25):
            pass

    await asyncio.gather(drain(first), drain(second))
    assert sorted(await fired_keys(fired)) == [f"t{n:03}" for n in range(300)]
