"""The plain-aiokafka runtime on the real broker and database: offsets follow commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from onramp.backends import create_topic, free_port, start_broker
from shared import db
from shared.batch_consumer import BatchConsumer
from shared.consumer import Handler, RecordProcessor, RetryPolicy
from shared.events import CloudEvent, KafkaRecord, dlt, to_record, topics
from shared.kafka import Publisher
from shared.settings import Settings
from tests.support.effects import effect_ids, record_effect
from tests.support.events import TRAINING_COMPLETED, training_event
from tests.support.kafka import read_topic, send
from tests.support.polling import eventually

Start = Callable[..., Awaitable[BatchConsumer]]


@pytest.fixture
async def start(effects: db.Pool, settings: Settings, publisher: Publisher) -> AsyncIterator[Start]:
    """Start a BatchConsumer over ``topic`` running ``handler`` (a fresh group unless given)."""
    running: list[BatchConsumer] = []

    async def run(topic: str, handler: Handler, *, group: str | None = None) -> BatchConsumer:
        processor = RecordProcessor(
            consumer=f"test.{topic}",
            handlers={TRAINING_COMPLETED: handler},
            pool=effects,
            publisher=publisher,
            policy=RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.05),
            max_record_bytes=64 * 1024,
        )
        consumer = BatchConsumer(
            group_id=group or f"test-{uuid.uuid4().hex[:8]}",
            processors={topic: processor},
            settings=settings.model_copy(update={"consumer_batch_size": 50}),
        )
        await consumer.start()
        running.append(consumer)
        return consumer

    yield run
    for consumer in running:
        await consumer.stop(1.0)


async def committed(
    settings: Settings, group: str, topic: str, partitions: int = 1
) -> dict[int, int]:
    """The group's committed offsets of ``topic``, by partition (read without joining it)."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        found = {n: await reader.committed(TopicPartition(topic, n)) for n in range(partitions)}
    finally:
        await reader.stop()
    return {n: offset for n, offset in found.items() if offset is not None}


async def test_records_apply_and_their_offsets_are_committed(
    start: Start, effects: db.Pool, topic: str, producer: AIOKafkaProducer, settings: Settings
) -> None:
    consumer = await start(topic, record_effect)
    events = [training_event() for _ in range(5)]
    for event in events:
        await send(producer, to_record(event, topic=topic, key="k"))

    await eventually(lambda: _applied(effects, 5))
    assert consumer.assigned
    assert await effect_ids(effects) == sorted(e.id for e in events)
    await eventually(lambda: _committed_is(settings, consumer.group_id, topic, {0: 5}))


async def test_a_poison_record_is_dead_lettered_and_committed_past(
    start: Start, effects: db.Pool, topic: str, producer: AIOKafkaProducer, settings: Settings
) -> None:
    consumer = await start(topic, record_effect)
    poison = KafkaRecord(topic=topic, key=b"k", value=b"\xff not json", headers=())
    await send(producer, poison)
    good = to_record(training_event(), topic=topic, key="k")
    sent = [*good.headers, ("x-empty", None)]  # a header without a value is no poison
    await producer.send_and_wait(topic, good.value, key=good.key, headers=sent, partition=0)

    await eventually(lambda: _applied(effects, 1))
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert headers["onramp.dlt.kind"] == "not_json"
    assert headers["onramp.dlt.offset"] == "0"
    await eventually(lambda: _committed_is(settings, consumer.group_id, topic, {0: 2}))


async def test_a_crash_before_the_commit_redelivers_without_loss_or_doubling(
    start: Start, effects: db.Pool, topic: str, producer: AIOKafkaProducer, settings: Settings
) -> None:
    stuck = asyncio.Event()

    async def hangs_on_hold(conn: db.Conn, event: CloudEvent[Any]) -> None:
        if event.data.staff_id == "hold":
            stuck.set()
            await asyncio.Event().wait()  # the process dies here, mid-transaction
        await record_effect(conn, event)

    first = await start(topic, hangs_on_hold)
    group = first.group_id
    early = [training_event() for _ in range(2)]
    for event in early:
        await send(producer, to_record(event, topic=topic, key="k"))
    await eventually(lambda: _committed_is(settings, group, topic, {0: 2}))
    late = [training_event(), training_event("hold"), training_event()]
    for event in late:
        await send(producer, to_record(event, topic=topic, key="k"))
    await asyncio.wait_for(stuck.wait(), 20)

    await _crash(first)  # no drain, no commit: as after kill -9

    # What was committed is exactly what was applied, and the held record's fetch is not in it
    # (the records before it may have come in an earlier fetch of their own).
    [offset] = (await committed(settings, group, topic)).values()
    sent = early + late
    assert 2 <= offset <= 3
    assert await effect_ids(effects) == sorted(e.id for e in sent[:offset])
    await start(topic, record_effect, group=group)  # the restart, same group
    await eventually(lambda: _applied(effects, 5), timeout=40)
    assert await effect_ids(effects) == sorted(e.id for e in sent)
    await eventually(lambda: _committed_is(settings, group, topic, {0: 5}))


async def test_stop_finishes_the_fetch_in_hand_and_commits_it(
    start: Start, effects: db.Pool, topic: str, producer: AIOKafkaProducer, settings: Settings
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(conn: db.Conn, event: CloudEvent[Any]) -> None:
        entered.set()
        await release.wait()
        await record_effect(conn, event)

    consumer = await start(topic, slow)
    events = [training_event() for _ in range(3)]
    for event in events:
        await send(producer, to_record(event, topic=topic, key="k"))
    await asyncio.wait_for(entered.wait(), 20)

    stopping = asyncio.create_task(consumer.stop(10.0))

    async def stop_has_begun() -> bool:
        return consumer.stopping

    await eventually(stop_has_begun, timeout=5)
    assert not stopping.done()  # it waits for the batch in hand
    release.set()
    await stopping

    # The fetch in hand (at least the first record) was applied and committed, nothing more.
    [offset] = (await committed(settings, consumer.group_id, topic)).values()
    assert offset >= 1
    assert await effect_ids(effects) == sorted(e.id for e in events[:offset])


async def test_a_rebalance_loses_and_doubles_nothing(
    start: Start, effects: db.Pool, producer: AIOKafkaProducer, settings: Settings
) -> None:
    assert settings.kafka_bootstrap
    topic = f"test.{uuid.uuid4().hex[:12]}"
    await create_topic(settings.kafka_bootstrap, topic, partitions=2)
    await create_topic(settings.kafka_bootstrap, topics.dlt(topic), partitions=1)
    group = f"test-{uuid.uuid4().hex[:8]}"
    first = await start(topic, record_effect, group=group)
    events = [training_event() for _ in range(20)]
    for n, event in enumerate(events[:10]):
        await send(producer, to_record(event, topic=topic, key="k"), partition=n % 2)
    await eventually(lambda: _applied(effects, 10))

    second = await start(topic, record_effect, group=group)  # the group rebalances
    for n, event in enumerate(events[10:]):
        await send(producer, to_record(event, topic=topic, key="k"), partition=n % 2)

    await eventually(lambda: _applied(effects, 20), timeout=40)
    await eventually(lambda: _both_assigned(first, second), timeout=30)
    assert await effect_ids(effects) == sorted(e.id for e in events)
    await eventually(lambda: _committed_is(settings, group, topic, {0: 10, 1: 10}))


async def _crash(consumer: BatchConsumer) -> None:
    """Stop the loop and the client without a drain or a commit."""
    task = consumer._task
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await consumer._consumer.stop()


async def _applied(pool: db.Pool, count: int) -> bool:
    found: int = await pool.fetchval("SELECT count(*) FROM effects")
    assert found <= count, f"{found} effects, more than {count}"
    return found == count


async def _committed_is(
    settings: Settings, group: str, topic: str, expected: dict[int, int]
) -> bool:
    return await committed(settings, group, topic, len(expected)) == expected


async def _both_assigned(a: BatchConsumer, b: BatchConsumer) -> bool:
    owned = a._consumer.assignment() | b._consumer.assignment()
    return a.assigned and b.assigned and len(owned) == 2


async def test_a_broker_away_at_start_delays_consuming_without_failing(
    effects: db.Pool, settings: Settings, publisher: Publisher, tmp_path: Path
) -> None:
    """The service starts, unready; once a broker answers, the consumer joins and applies."""
    port = free_port()
    late = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})
    topic = "test.late-broker"
    processor = RecordProcessor(
        consumer=f"test.{topic}",
        handlers={TRAINING_COMPLETED: record_effect},
        pool=effects,
        publisher=publisher,
        policy=RetryPolicy(),
        max_record_bytes=64 * 1024,
    )
    consumer = BatchConsumer(group_id="test-late", processors={topic: processor}, settings=late)
    await consumer.start()  # returns although nobody listens yet
    assert not consumer.assigned
    broker = await asyncio.to_thread(start_broker, port, log_path=tmp_path / "broker.log")
    try:
        await create_topic(broker.bootstrap, topic)
        event = training_event()
        record = to_record(event, topic=topic, key="k")
        sender = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await sender.start()
        try:
            await sender.send_and_wait(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
        finally:
            await sender.stop()
        await eventually(lambda: _applied(effects, 1), timeout=60)
        assert consumer.assigned
    finally:
        await consumer.stop(1.0)
        broker.stop()
