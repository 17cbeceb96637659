"""The consumer wrapper on the real broker and database, run by a real faust agent."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import db
from shared.consumer import Handler, RecordProcessor, RetryPolicy
from shared.events import CloudEvent, KafkaRecord, dlt, to_record, to_structured_record
from shared.kafka import Publisher
from shared.settings import Settings
from shared.streams import StreamApp, create_stream_app, subscribe
from tests.support.effects import record_effect
from tests.support.events import TRAINING_COMPLETED, training_event
from tests.support.kafka import read_topic, send
from tests.support.polling import eventually

Start = Callable[[str, Handler], Awaitable[StreamApp]]


async def effect_count(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM effects")
    return count


@pytest.fixture
async def start_agent(pool: db.Pool, settings: Settings) -> AsyncIterator[Start]:
    """Start a faust app (its own consumer group) running the wrapper over one topic."""
    apps: list[StreamApp] = []
    publisher = Publisher(settings, client_id="test-consumer")

    async def start(topic: str, handler: Handler) -> StreamApp:
        app = create_stream_app(f"test-{uuid.uuid4().hex[:8]}", settings)
        processor = RecordProcessor(
            consumer=f"test.{topic}",
            handlers={TRAINING_COMPLETED: handler},
            pool=pool,
            publisher=publisher,
            policy=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.1),
            max_record_bytes=64 * 1024,
        )
        subscribe(app, topic, processor)
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop()
    await publisher.stop()


async def test_duplicate_delivery_has_one_effect(
    effects: db.Pool, topic: str, start_agent: Start, producer: AIOKafkaProducer
) -> None:
    await start_agent(topic, record_effect)
    event = training_event()
    await send(producer, to_record(event, topic=topic, key="k"))
    await send(producer, to_structured_record(event, topic=topic, key="k"))  # same source + id
    marker = training_event()
    await send(producer, to_record(marker, topic=topic, key="k"))

    await eventually(lambda: _has(effects, marker.id))
    rows = await effects.fetch("SELECT event_id FROM effects ORDER BY event_id")
    assert sorted(r["event_id"] for r in rows) == sorted([event.id, marker.id])


async def _has(pool: db.Pool, event_id: str) -> bool:
    found: bool = await pool.fetchval(
        "SELECT exists(SELECT 1 FROM effects WHERE event_id = $1)", event_id
    )
    return found


async def test_poison_record_is_dead_lettered_and_the_partition_moves_on(
    effects: db.Pool,
    topic: str,
    start_agent: Start,
    producer: AIOKafkaProducer,
    settings: Settings,
) -> None:
    await start_agent(topic, record_effect)
    poison = KafkaRecord(topic=topic, key=b"k", value=b"{not json", headers=(("x-trace", b"1"),))
    await send(producer, poison)
    good = training_event()
    await send(producer, to_record(good, topic=topic, key="k"))

    await eventually(lambda: _has(effects, good.id))
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert dead.value == b"{not json"
    assert dead.key == b"k"
    assert headers["x-trace"] == "1"  # the original record, untouched
    assert headers["onramp.dlt.topic"] == topic
    assert headers["onramp.dlt.partition"] == "0"
    assert headers["onramp.dlt.offset"] == "0"
    assert headers["onramp.dlt.kind"] == "not_json"
    assert headers["onramp.dlt.attempts"] == "1"
    assert headers["onramp.dlt.message"]


async def test_handler_that_keeps_failing_is_dead_lettered_after_max_attempts(
    effects: db.Pool, topic: str, start_agent: Start, producer: AIOKafkaProducer, settings: Settings
) -> None:
    calls: list[str] = []

    async def fails_for_one_staff(conn: db.Conn, event: CloudEvent[Any]) -> None:
        calls.append(event.id)
        if event.data.staff_id == "broken":
            raise ValueError("cannot apply")
        await record_effect(conn, event)

    await start_agent(topic, fails_for_one_staff)
    bad, good = training_event("broken"), training_event()
    await send(producer, to_record(bad, topic=topic, key="k"))
    await send(producer, to_record(good, topic=topic, key="k"))

    await eventually(lambda: _has(effects, good.id))
    assert calls.count(bad.id) == 3
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert (headers["onramp.dlt.kind"], headers["onramp.dlt.attempts"]) == ("handler_error", "3")
    assert await effect_count(effects) == 1


async def test_transient_database_failure_is_retried_not_dead_lettered(
    effects: db.Pool, topic: str, start_agent: Start, producer: AIOKafkaProducer, settings: Settings
) -> None:
    attempts: list[str] = []

    async def loses_its_connection_once(conn: db.Conn, event: CloudEvent[Any]) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:  # the server ends this session, as a restarting database would
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        await record_effect(conn, event)

    await start_agent(topic, loses_its_connection_once)
    event = training_event()
    await send(producer, to_record(event, topic=topic, key="k"))

    await eventually(lambda: _has(effects, event.id))
    assert attempts == [event.id, event.id]
    assert settings.kafka_bootstrap
    assert await read_topic(settings.kafka_bootstrap, dlt(topic), expect=0, timeout=1.5) == []


async def test_consume_hop_takes_milliseconds_not_the_fetch_wait(
    effects: db.Pool, topic: str, start_agent: Start, producer: AIOKafkaProducer
) -> None:
    """faust hard-codes a 1.5 s fetch wait; the shared setup replaces it with the setting."""
    app = await start_agent(topic, record_effect)
    assert app.consumer._thread._consumer._fetch_max_wait_ms == 10  # type: ignore[attr-defined]
    hops = []
    for _ in range(10):
        event = training_event()
        started = time.perf_counter()
        await send(producer, to_record(event, topic=topic, key="k"))
        await eventually(lambda: _has(effects, event.id), interval=0.002)  # noqa: B023
        hops.append(time.perf_counter() - started)
    assert statistics.median(hops) < 0.5, hops
