"""The outbox publishes exactly what committed, and a relay killed mid-batch loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from shared import db, outbox
from shared.events import CloudEvent, decode
from shared.kafka import Publisher
from shared.outbox import OutboxRelay
from shared.settings import Settings
from tests.support.events import training_event
from tests.support.kafka import read_topic
from tests.support.polling import eventually


def _relay(
    pool: db.Pool,
    publisher: Publisher,
    settings: Settings,
    schema: str,
    *,
    poll_interval_s: float = 0.2,
) -> OutboxRelay:
    assert settings.database_url
    return OutboxRelay(
        pool,
        publisher,
        url=settings.database_url,
        schema=schema,
        batch_size=50,
        poll_interval_s=poll_interval_s,
    )


async def _stage_then_fail(pool: db.Pool, event: CloudEvent[BaseModel], topic: str) -> None:
    async with db.transaction(pool) as conn:
        await outbox.add(conn, event, topic=topic, key=event.subject)
        raise RuntimeError("the use case failed after staging its event")


async def _unsent(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox")
    return count


async def test_publishes_committed_rows_and_nothing_rolled_back(
    pool: db.Pool, schema: str, topic: str, settings: Settings
) -> None:
    committed = [training_event() for _ in range(3)]
    rolled_back = training_event()
    async with db.transaction(pool) as conn:
        for event in committed:
            await outbox.add(conn, event, topic=topic, key=event.subject)
    with pytest.raises(RuntimeError, match="failed after staging"):
        await _stage_then_fail(pool, rolled_back, topic)

    publisher = Publisher(settings, client_id="test-outbox")
    relay = _relay(pool, publisher, settings, schema)
    try:
        assert await relay.relay_once() == 3
        assert _oldest_unsent_s(schema) > 0  # the batch's oldest row waited a moment
        assert await relay.relay_once() == 0
        assert _oldest_unsent_s(schema) == 0
    finally:
        await publisher.stop()
        await relay.close()

    assert settings.kafka_bootstrap
    records = await read_topic(settings.kafka_bootstrap, topic, expect=3)
    published = [decode(r.value, r.headers, max_bytes=1 << 20) for r in records]
    assert [e.id for e in published] == [e.id for e in committed]
    assert {r.key for r in records} == {e.subject.encode() for e in committed}
    assert await _unsent(pool) == 0


async def test_relay_wakes_on_notify_from_another_process(
    pool: db.Pool, schema: str, topic: str, settings: Settings
) -> None:
    """A row committed elsewhere (here a connection of its own, as a script's or an API-only
    process's) goes out without waiting for the poll interval (LISTEN/NOTIFY)."""
    assert settings.database_url
    async with _running(pool, settings, schema):
        await eventually(lambda: _listening(pool, schema), timeout=10)
        elsewhere = await db.connect(settings.database_url, schema)
        try:
            async with elsewhere.transaction():
                event = training_event()
                await outbox.add(elsewhere, event, topic=topic, key="k")  # type: ignore[arg-type]
        finally:
            await elsewhere.close()
        await eventually(lambda: _all_sent(pool))


async def test_a_process_running_its_relay_wakes_it_without_notify(
    schema: str, topic: str, settings: Settings
) -> None:
    """Connections of a process with a relay send no NOTIFY; their commits wake the relay in the
    process, in a transaction and outside one (a statement that commits on its own)."""
    assert settings.database_url
    own = await db.create_pool(settings.database_url, schema, max_size=2, notify_outbox=False)
    listener = await db.connect(settings.database_url, schema)
    heard: list[str] = []
    await listener.add_listener(f"{schema}.outbox", lambda *args: heard.append(args[2]))
    try:
        async with _running(own, settings, schema):
            async with db.transaction(own) as conn:
                await outbox.add(conn, training_event(), topic=topic, key="k")
            await eventually(lambda: _all_sent(own))
            async with own.acquire() as conn:
                assert await outbox.add_if_inserted(
                    conn,
                    "INSERT INTO inbox (consumer, source, event_id) VALUES ('c', 's', 'e') "
                    "RETURNING event_id",
                    (),
                    training_event(),
                    topic=topic,
                    key="k",
                )
            await eventually(lambda: _all_sent(own))
        await listener.fetchval("SELECT 1")  # a notification sent at commit has arrived by now
        assert heard == []
    finally:
        await listener.close()
        await own.close()


async def test_a_relay_retries_while_another_instance_holds_the_relay_lock(
    pool: db.Pool, schema: str, topic: str, settings: Settings
) -> None:
    """Woken by a commit while another instance's relay publishes (holds the lock), a relay
    tries again until it gets the lock, instead of waiting for the next wake-up."""
    assert settings.database_url
    contended = _contended_claims(schema)
    other_instance = await db.connect(settings.database_url, schema)
    try:
        await other_instance.execute("BEGIN")
        await other_instance.execute(
            "SELECT pg_advisory_xact_lock(hashtext('onramp.outbox.' || $1))", schema
        )
        async with _running(pool, settings, schema):
            async with db.transaction(pool) as conn:
                await outbox.add(conn, training_event(), topic=topic, key="k")
            await eventually(lambda: _more(contended, _contended_claims(schema)))
            assert await _unsent(pool) == 1
            await other_instance.execute("COMMIT")  # the other relay's batch is done
            await eventually(lambda: _all_sent(pool))
    finally:
        await other_instance.close()


async def test_commit_hooks_run_after_commit_only(pool: db.Pool) -> None:
    """What wakes a relay: after the transaction commits, never after a rollback, at once for
    a statement outside a transaction."""
    ran: list[str] = []
    async with db.transaction(pool) as conn:
        db.after_commit(conn, lambda: ran.append("committed"))
        async with db.atomic(conn):  # joins the open transaction: its hooks wait for the commit
            db.after_commit(conn, lambda: ran.append("joined"))
        assert ran == []
    assert ran == ["committed", "joined"]
    with pytest.raises(RuntimeError, match="failed"):
        await _hook_then_fail(pool, lambda: ran.append("rolled back"))
    async with pool.acquire() as conn:
        async with db.atomic(conn):
            db.after_commit(conn, lambda: ran.append("own transaction"))
            assert ran == ["committed", "joined"]
        db.after_commit(conn, lambda: ran.append("no transaction"))
    assert ran == ["committed", "joined", "own transaction", "no transaction"]
    async with db.transaction(pool) as conn:  # committed: a failing hook must not say otherwise
        db.after_commit(conn, _fail)
        db.after_commit(conn, lambda: ran.append("after a failing one"))
    assert ran[-1] == "after a failing one"


def _fail() -> None:
    raise RuntimeError("a hook failed")


async def _hook_then_fail(pool: db.Pool, hook: Callable[[], None]) -> None:
    async with db.transaction(pool) as conn:
        db.after_commit(conn, hook)
        raise RuntimeError("the use case failed")


@asynccontextmanager
async def _running(pool: db.Pool, settings: Settings, schema: str) -> AsyncIterator[None]:
    """A relay running in the background, its poll interval long enough never to matter."""
    publisher = Publisher(settings, client_id="test-outbox")
    relay = _relay(pool, publisher, settings, schema, poll_interval_s=3600)
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay.close()
        await publisher.stop()


def _oldest_unsent_s(schema: str) -> float:
    lag = REGISTRY.get_sample_value("onramp_outbox_oldest_unsent_seconds", {"service": schema})
    assert lag is not None
    return lag


def _contended_claims(schema: str) -> float:
    return REGISTRY.get_sample_value("onramp_outbox_contended_total", {"service": schema}) or 0.0


async def _more(before: float, now: float) -> bool:
    return now > before


async def _all_sent(pool: db.Pool) -> bool:
    return await _unsent(pool) == 0


async def _listening(pool: db.Pool, schema: str) -> bool:
    listeners: int = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE query = $1", f'LISTEN "{schema}.outbox"'
    )
    return listeners > 0


async def test_relay_killed_mid_batch_loses_nothing(
    pool: db.Pool, schema: str, topic: str, settings: Settings
) -> None:
    events = [training_event() for _ in range(3000)]
    async with db.transaction(pool) as conn:
        for event in events:
            await outbox.add(conn, event, topic=topic, key=event.subject)

    env = {
        **os.environ,
        "ONRAMP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "ONRAMP_DATABASE_URL": settings.database_url or "",
    }
    relay_process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.relay_process",
        schema,
        "10",  # small batches: a loaded machine must still catch it mid-way
        env=env,
    )
    try:
        await eventually(lambda: _partly_sent(pool, len(events)), timeout=30, interval=0.005)
    finally:
        relay_process.send_signal(signal.SIGKILL)
        await relay_process.wait()
    assert await _unsent(pool) > 0, "the relay finished before it was killed"

    publisher = Publisher(settings, client_id="test-outbox")
    relay = _relay(pool, publisher, settings, schema)
    try:
        while await relay.relay_once():
            pass
    finally:
        await publisher.stop()
        await relay.close()

    assert settings.kafka_bootstrap
    records = await read_topic(settings.kafka_bootstrap, topic, expect=len(events), timeout=60)
    seen = {decode(r.value, r.headers, max_bytes=1 << 20).id for r in records}
    assert seen == {e.id for e in events}  # at least once: a re-sent batch is allowed


async def _partly_sent(pool: db.Pool, total: int) -> bool:
    unsent = await _unsent(pool)
    return 0 < unsent < total
