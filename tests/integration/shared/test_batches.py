"""The wrapper's batch path on the real database (and the real broker for dead letters)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from shared import db
from shared.consumer import (
    Batched,
    Handler,
    Outcome,
    RawRecord,
    RecordProcessor,
    Rejected,
    RetryPolicy,
)
from shared.events import CloudEvent, KafkaRecord, dlt, new_event, to_record
from shared.events.models import StaffUpserted
from shared.kafka import Publisher
from shared.settings import Settings
from tests.support.effects import effect_ids, record_effect
from tests.support.events import TRAINING_COMPLETED, training_event
from tests.support.kafka import read_topic

Make = Callable[[Handler], RecordProcessor]


def staff_event() -> CloudEvent[BaseModel]:
    data = StaffUpserted(staff_id="s-1", name="S")
    return new_event("onramp.staff.upserted.v1", source="/test/hr", subject="staff/s-1", data=data)


@pytest.fixture
def make(effects: db.Pool, publisher: Publisher, topic: str) -> Make:
    def build(handler: Handler) -> RecordProcessor:
        return RecordProcessor(
            consumer=f"test.{topic}",
            handlers={TRAINING_COMPLETED: handler},
            pool=effects,
            publisher=publisher,
            policy=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05),
            max_record_bytes=64 * 1024,
        )

    return build


def raw(records: Sequence[KafkaRecord]) -> list[RawRecord]:
    return [
        RawRecord(r.topic, 0, offset, r.key, r.value, r.headers) for offset, r in enumerate(records)
    ]


class Recorder:
    """A batch-form handler that counts its calls and writes every effect in one statement."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.singles = 0

    async def one(self, conn: db.Conn, event: CloudEvent[Any]) -> None:
        self.singles += 1
        await record_effect(conn, event)

    async def many(self, conn: db.Conn, events: Sequence[CloudEvent[Any]]) -> None:
        self.batches.append(len(events))
        await conn.execute(
            "INSERT INTO effects SELECT * FROM unnest($1::text[], $2::text[])",
            [e.id for e in events],
            [e.data.staff_id for e in events],
        )

    @property
    def handler(self) -> Batched:
        return Batched(self.one, self.many)


async def test_a_batch_is_applied_once_by_the_batch_form(
    make: Make, effects: db.Pool, topic: str
) -> None:
    recorder = Recorder()
    processor = make(recorder.handler)
    events = [training_event() for _ in range(20)]

    outcomes = await processor.process_batch(
        raw([to_record(e, topic=topic, key="k") for e in events])
    )

    assert outcomes == [Outcome.APPLIED] * 20
    assert recorder.batches == [20]
    assert recorder.singles == 0
    assert await effect_ids(effects) == sorted(e.id for e in events)


async def test_a_redelivered_batch_is_not_doubled(make: Make, effects: db.Pool, topic: str) -> None:
    recorder = Recorder()
    processor = make(recorder.handler)
    events = [training_event() for _ in range(5)]
    records = raw([to_record(e, topic=topic, key="k") for e in events])
    again = raw([to_record(events[0], topic=topic, key="k")])  # a copy within the next batch

    first = await processor.process_batch(records)
    second = await processor.process_batch(records + again)

    assert first == [Outcome.APPLIED] * 5
    assert second == [Outcome.DUPLICATE] * 6
    assert await effect_ids(effects) == sorted(e.id for e in events)


async def test_a_copy_within_one_batch_applies_once(
    make: Make, effects: db.Pool, topic: str
) -> None:
    processor = make(record_effect)
    event, other = training_event(), training_event()
    records = raw([to_record(e, topic=topic, key="k") for e in (event, other, event)])

    outcomes = await processor.process_batch(records)

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    assert await effect_ids(effects) == sorted([event.id, other.id])


async def test_a_poison_record_in_the_middle_is_dead_lettered_and_the_rest_apply(
    make: Make, effects: db.Pool, topic: str, settings: Settings
) -> None:
    processor = make(Recorder().handler)
    before, after = training_event(), training_event()
    poison = KafkaRecord(topic=topic, key=b"p", value=b"{not json", headers=(("x-trace", b"7"),))
    records = raw(
        [to_record(before, topic=topic, key="k"), poison, to_record(after, topic=topic, key="k")]
    )

    outcomes = await processor.process_batch(records)

    assert outcomes == [Outcome.APPLIED, Outcome.DEAD_LETTERED, Outcome.APPLIED]
    assert await effect_ids(effects) == sorted([before.id, after.id])
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert (dead.key, dead.value) == (b"p", b"{not json")
    assert headers["x-trace"] == "7"
    assert headers["onramp.dlt.topic"] == topic
    assert headers["onramp.dlt.offset"] == "1"
    assert headers["onramp.dlt.kind"] == "not_json"
    assert headers["onramp.dlt.consumer"] == f"test.{topic}"


async def test_a_failing_record_is_isolated_and_the_others_apply_once(
    make: Make, effects: db.Pool, topic: str, settings: Settings
) -> None:
    """The batch form fails, the batch rolls back and is applied record by record: the bad one
    is retried and dead-lettered, every other one applies exactly once."""
    calls: list[str] = []

    async def one(conn: db.Conn, event: CloudEvent[Any]) -> None:
        calls.append(event.id)
        if event.data.staff_id == "broken":
            raise ValueError("cannot apply")
        await record_effect(conn, event)

    async def many(conn: db.Conn, events: Sequence[CloudEvent[Any]]) -> None:
        for event in events:
            await one(conn, event)

    processor = make(Batched(one, many))
    events = [training_event(), training_event(), training_event("broken"), training_event()]
    records = raw([to_record(e, topic=topic, key="k") for e in events])

    outcomes = await processor.process_batch(records)

    assert outcomes == [Outcome.APPLIED] * 2 + [Outcome.DEAD_LETTERED, Outcome.APPLIED]
    assert await effect_ids(effects) == sorted(e.id for i, e in enumerate(events) if i != 2)
    assert calls.count(events[2].id) == 1 + 3  # the batch, then max_attempts on its own
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert (headers["onramp.dlt.kind"], headers["onramp.dlt.attempts"]) == ("handler_error", "3")
    assert headers["onramp.dlt.offset"] == "2"


async def test_a_record_known_to_fail_counts_its_first_attempt(
    make: Make, effects: db.Pool, topic: str, settings: Settings
) -> None:
    """Without a batch form the wrapper knows which record failed: rejected at once."""

    async def rejects_one(conn: db.Conn, event: CloudEvent[Any]) -> None:
        if event.data.staff_id == "refused":
            raise Rejected("never valid")
        await record_effect(conn, event)

    processor = make(rejects_one)
    events = [training_event(), training_event("refused"), training_event()]

    outcomes = await processor.process_batch(
        raw([to_record(e, topic=topic, key="k") for e in events])
    )

    assert outcomes == [Outcome.APPLIED, Outcome.DEAD_LETTERED, Outcome.APPLIED]
    assert await effect_ids(effects) == sorted([events[0].id, events[2].id])
    assert settings.kafka_bootstrap
    [dead] = await read_topic(settings.kafka_bootstrap, dlt(topic), expect=1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert (headers["onramp.dlt.kind"], headers["onramp.dlt.attempts"]) == ("rejected", "1")


async def test_a_database_outage_retries_the_batch_then_applies_it(
    make: Make, effects: db.Pool, topic: str, settings: Settings
) -> None:
    recorder = Recorder()
    outages = 2

    async def many(conn: db.Conn, events: Sequence[CloudEvent[Any]]) -> None:
        nonlocal outages
        if outages:  # the server ends the session, as a restarting database does
            outages -= 1
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        await recorder.many(conn, events)

    processor = make(Batched(recorder.one, many))
    events = [training_event() for _ in range(10)]

    outcomes = await processor.process_batch(
        raw([to_record(e, topic=topic, key="k") for e in events])
    )

    assert outcomes == [Outcome.APPLIED] * 10
    assert recorder.batches == [10]  # retried whole, not split
    assert recorder.singles == 0
    assert await effect_ids(effects) == sorted(e.id for e in events)
    assert settings.kafka_bootstrap
    assert await read_topic(settings.kafka_bootstrap, dlt(topic), expect=0, timeout=1.0) == []


async def test_runs_of_types_keep_partition_order(make: Make, effects: db.Pool, topic: str) -> None:
    """Consecutive events of one handler form a run; a handler change starts a new one."""
    order: list[str] = []

    async def one(conn: db.Conn, event: CloudEvent[Any]) -> None:
        order.append(event.id)

    async def many(conn: db.Conn, events: Sequence[CloudEvent[Any]]) -> None:
        order.extend(e.id for e in events)

    processor = RecordProcessor(
        consumer=f"test.{topic}",
        handlers={TRAINING_COMPLETED: Batched(one, many), "onramp.staff.upserted.v1": one},
        pool=effects,
        publisher=Publisher(Settings(kafka_bootstrap="unused:9"), client_id="unused"),
        policy=RetryPolicy(),
        max_record_bytes=64 * 1024,
    )
    events = [training_event(), training_event(), staff_event(), training_event()]

    outcomes = await processor.process_batch(
        raw([to_record(e, topic=topic, key="k") for e in events])
    )

    assert outcomes == [Outcome.APPLIED] * 4
    assert order == [e.id for e in events]
