"""Dead-letter topics: read what consumers parked there, and send it back after a fix.

A dead letter is the original record, untouched, plus ``onramp.dlt.*`` headers saying where it
came from and why it failed (``shared.consumer.dead_letter_record``). Replaying sends the original
key, value and headers to the original topic, with the reason headers dropped and one
``onramp.dlt.replayed_from`` header (``<dlt topic>:<partition>:<offset>``) added for tracing.

Replaying is safe to repeat: consumers claim every event in their inbox (source + id), so an
event a consumer has applied since is a duplicate for it, and one that still fails is parked
again. One record that several consumers dead-lettered is replayed once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import KafkaRecord, topics
from shared.kafka import client_options
from shared.settings import Settings

REASON_PREFIX = "onramp.dlt."
REPLAYED_FROM = "onramp.dlt.replayed_from"
_READ_TIMEOUT_S = 60.0


class DeadLetterError(RuntimeError):
    pass


def dlt_topic(topic: str) -> str:
    """``onramp.feedback`` and ``onramp.feedback.dlt`` both name the latter."""
    return topic if topic.endswith(".dlt") else topics.dlt(topic)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str  # the dead-letter topic
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def reasons(self) -> dict[str, str]:
        """The ``onramp.dlt.*`` headers, without the prefix: topic, kind, message, ..."""
        return {
            name.removeprefix(REASON_PREFIX): raw.decode(errors="replace")
            for name, raw in self.headers
            if name.startswith(REASON_PREFIX)
        }

    @property
    def original(self) -> tuple[str, str, str]:
        """(topic, partition, offset) the record was first read from."""
        reasons = self.reasons
        return reasons.get("topic", ""), reasons.get("partition", ""), reasons.get("offset", "")

    def header(self, name: str) -> str | None:
        for header, raw in self.headers:
            if header == name:
                return raw.decode(errors="replace")
        return None

    def replay_record(self) -> KafkaRecord:
        topic = self.original[0]
        if not topic:
            raise DeadLetterError(f"{self.ref} has no onramp.dlt.topic header")
        kept = tuple((n, v) for n, v in self.headers if not n.startswith(REASON_PREFIX))
        trace = (REPLAYED_FROM, self.ref.encode())
        return KafkaRecord(topic=topic, key=self.key, value=self.value, headers=(*kept, trace))

    @property
    def ref(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


async def read(
    settings: Settings, topic: str, *, partition: int | None = None, offset: int | None = None
) -> list[DeadLetter]:
    """Every record of a dead-letter topic (or of one partition, from ``offset`` on), oldest
    first per partition. DeadLetterError when the topic or partition does not exist."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        request_timeout_ms=15_000,
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        if partition is not None:
            if partition not in partitions:
                raise DeadLetterError(f"{topic} has no partition {partition}")
            partitions = [partition]
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
        if offset is None:
            await consumer.seek_to_beginning(*assigned)
        else:
            consumer.seek(assigned[0], offset)
        return await _read_until(consumer, ends)
    finally:
        await consumer.stop()


async def partition_count(settings: Settings, topic: str) -> int:
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await consumer.start()
    try:
        return len(await _partitions(consumer, topic))
    finally:
        await consumer.stop()


def unique_originals(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per original record (each consumer of a topic parks its own copy)."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for letter in letters:
        if letter.original not in seen:
            seen.add(letter.original)
            unique.append(letter)
    return unique


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    await consumer.topics()  # refreshes metadata for every topic
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise DeadLetterError(f"topic {topic} does not exist")
    return sorted(found)


async def _read_until(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
) -> list[DeadLetter]:
    """Fetch until every partition is read up to its end. The end is the larger of what
    ListOffsets said and the high watermark of the fetches: the embedded broker's ListOffsets
    can under-report after a produce request that spanned partitions."""
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + _READ_TIMEOUT_S
    remaining = set(ends)
    while remaining:
        if time.monotonic() > deadline:
            raise DeadLetterError(f"could not read to the end within {_READ_TIMEOUT_S:g} s")
        batch = await consumer.getmany(*remaining, timeout_ms=200)
        letters += [
            DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
            for records in batch.values()
            for r in records
        ]
        for tp in list(remaining):
            highwater = consumer.highwater(tp)
            if highwater is not None and await consumer.position(tp) >= max(ends[tp], highwater):
                remaining.discard(tp)
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
