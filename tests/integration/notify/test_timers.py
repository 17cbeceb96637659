"""Escalation levels fired by the real durable scheduler, on the real clock: on time, once per
level and loop, across a restart and with two instances racing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.notify import agents
from services.notify.domain.escalation import Level, Policy, Repeat
from services.notify.repository import cases as case_repo
from services.notify.settings import Deps, build_deps, utc_now
from shared import db
from shared.scheduler import Scheduler
from shared.settings import Settings
from tests.integration.notify import builders as b
from tests.integration.notify.conftest import World
from tests.support.polling import eventually
from tests.support.smtp import SmtpSink

SECOND = timedelta(seconds=1)
FAST = Policy(
    "urgent-issue",
    (
        Level(timedelta(0), "always", ("role:it_support",)),
        Level(1 * SECOND, "if_not_acked", ("role:admin",)),
        Level(2 * SECOND, "if_not_acked", ("staff:boss",)),
    ),
    Repeat(times=1, after=1 * SECOND),  # loop 1 starts at 3 s: levels at 3, 4 and 5 s
)

MakeScheduler = Callable[[], Scheduler]


@pytest.fixture
def real_time(world: World) -> Deps:
    return build_deps(world.deps.settings, utc_now)


@pytest.fixture
async def make_scheduler(
    world: World, real_time: Deps, settings: Settings
) -> AsyncIterator[MakeScheduler]:
    made: list[tuple[Scheduler, asyncio.Task[None]]] = []

    def make() -> Scheduler:
        scheduler = Scheduler(
            world.pool,
            agents.timers(real_time),
            url=settings.database_url or "",
            schema=world.schema,
            poll_interval_s=0.5,
        )
        made.append((scheduler, asyncio.create_task(scheduler.run())))
        return scheduler

    yield make
    for scheduler, task in made:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await scheduler.close()


async def setup(world: World, deps: Deps) -> str:
    async with db.transaction(world.pool) as conn:
        await case_repo.put_policy(conn, FAST, "adm-1", datetime.now(UTC))
    for event in (
        b.staff("it-1", datetime.now(UTC), roles=["it_support"], email="it-timers@example.com"),
        b.staff("adm-1", datetime.now(UTC), roles=["admin"]),
    ):
        await world.consume(event)
    report = b.issue("r-1", datetime.now(UTC))
    handler = agents.subscriptions(deps)["onramp.feedback"][report.type]
    async with db.transaction(world.pool) as conn:
        await handler(conn, report)
    return str(report.data.feedback_id)


async def pages(world: World) -> list[tuple[int, int, timedelta]]:
    rows = await world.pool.fetch(
        """SELECT loop, level, at - due_at AS late FROM case_log
           WHERE action = 'paged' ORDER BY loop, level"""
    )
    return [(r["loop"], r["level"], r["late"]) for r in rows]


async def test_levels_fire_on_time_and_email_goes_out(
    world: World, real_time: Deps, make_scheduler: MakeScheduler, mail_sink: SmtpSink
) -> None:
    await setup(world, real_time)
    make_scheduler()

    async def all_six() -> list[tuple[int, int, timedelta]]:
        found = await pages(world)
        return found if len(found) == 6 else []

    found = await eventually(all_six, timeout=15)
    assert [(loop, level) for loop, level, _ in found] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    assert max(late for _, _, late in found) < timedelta(seconds=1)
    await eventually(lambda: _mails(mail_sink, "it-timers@example.com", 2), timeout=10)


async def _mails(sink: SmtpSink, address: str, count: int) -> bool:
    return len(sink.inbox.to(address)) >= count


async def test_a_restart_between_levels_neither_skips_nor_repeats_one(
    world: World, real_time: Deps, settings: Settings
) -> None:
    def start() -> tuple[Scheduler, asyncio.Task[None]]:
        scheduler = Scheduler(
            world.pool,
            agents.timers(real_time),
            url=settings.database_url or "",
            schema=world.schema,
            poll_interval_s=0.5,
        )
        return scheduler, asyncio.create_task(scheduler.run())

    await setup(world, real_time)
    first, first_task = start()

    async def level_one_paged() -> bool:
        return len(await pages(world)) >= 2

    await eventually(level_one_paged, timeout=10)
    first_task.cancel()  # the process goes away between levels
    await asyncio.gather(first_task, return_exceptions=True)
    await first.close()  # gather above already waited for the task to end
    assert len(await pages(world)) == 2

    racing = [start(), start()]  # the restarted process, and a second instance
    try:

        async def done() -> bool:
            return len(await pages(world)) >= 6

        await eventually(done, timeout=15)
        await eventually(lambda: _no_timers(world), timeout=5)
    finally:
        for scheduler, task in racing:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await scheduler.close()
    found = await pages(world)
    assert [(loop, level) for loop, level, _ in found] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    escalated = await world.published("onramp.escalation.escalated.v1")
    assert sorted((e.data.repeat, e.data.level) for e in escalated) == [
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    boss_notes = await world.inbox("boss")
    assert [n["source_event_id"] for n in boss_notes] == [
        e.id for e in escalated if e.data.level == 2
    ]


async def _no_timers(world: World) -> bool:
    return not [t for t in await world.timers() if t["kind"] == "escalation"]
