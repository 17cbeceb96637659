"""The outbox publishes exactly what committed, and a relay killed mid-batch loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
from pydantic import BaseModel

from shared import db, outbox
from shared.events import CloudEvent, decode
from shared.kafka import Publisher
from shared.outbox import OutboxRelay
from shared.settings import Settings
from tests.support.events import training_event
from tests.support.kafka import read_topic
from tests.support.polling import eventually


def _relay(pool: db.Pool, publisher: Publisher, settings: Settings, schema: str) -> OutboxRelay:
    assert settings.database_url
    return OutboxRelay(
        pool,
        publisher,
        url=settings.database_url,
        schema=schema,
        batch_size=50,
        poll_interval_s=0.2,
    )


async def _stage_then_fail(pool: db.Pool, event: CloudEvent[BaseModel], topic: str) -> None:
    async with db.transaction(pool) as conn:
        await outbox.add(conn, event, topic=topic, key=event.subject)
        raise RuntimeError("the use case failed after staging its event")


async def _unsent(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
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
        assert await relay.relay_once() == 0
    finally:
        await publisher.stop()
        await relay.close()

    assert settings.kafka_bootstrap
    records = await read_topic(settings.kafka_bootstrap, topic, expect=3)
    published = [decode(r.value, r.headers, max_bytes=1 << 20) for r in records]
    assert [e.id for e in published] == [e.id for e in committed]
    assert {r.key for r in records} == {e.subject.encode() for e in committed}
    assert await _unsent(pool) == 0


async def test_relay_wakes_on_notify(
    pool: db.Pool, schema: str, topic: str, settings: Settings
) -> None:
    """A committed row goes out without waiting for the poll interval (LISTEN/NOTIFY)."""
    publisher = Publisher(settings, client_id="test-outbox")
    relay = OutboxRelay(
        pool,
        publisher,
        url=settings.database_url or "",
        schema=schema,
        batch_size=50,
        poll_interval_s=3600,
    )
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _listening(pool, schema), timeout=10)
        event = training_event()
        async with db.transaction(pool) as conn:
            await outbox.add(conn, event, topic=topic, key="k")
        await eventually(lambda: _all_sent(pool), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay.close()
        await publisher.stop()


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
