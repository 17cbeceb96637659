"""The history: an append-only record of every input sent (and whether it was accepted) and of
every record observed on the topics the services publish to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic_core import from_json

from shared.events import topics

Kind = Literal["staff", "training", "survey", "issue", "comment", "advance", "poison"]


@dataclass
class Input:
    """One thing sent into the system. ``accepted`` is the broker's ack or a 2xx answer; an
    input whose outcome is unknown (the connection broke) is not counted as accepted."""

    trial: str
    kind: Kind
    ident: str  # staff id, (staff, course), feedback id, external id, rollout:stage, poison id
    at: float
    accepted: bool | None = None  # None: no answer yet
    event_id: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: dict[str, bytes]
    data: Any


class History:
    def __init__(self) -> None:
        self.inputs: list[Input] = []
        self.observed: list[Observed] = []

    def add(self, item: Input) -> Input:
        self.inputs.append(item)
        return item

    def of(self, trial: str, kind: Kind | None = None) -> list[Input]:
        return [i for i in self.inputs if i.trial == trial and (kind is None or i.kind == kind)]

    def dump(self, path: Path) -> None:
        """JSON lines: every input sent, then every record observed (ids and places)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for item in self.inputs:
                line = {"sent": item.kind, **asdict(item)}
                out.write(json.dumps(line, default=str) + "\n")
            for o in self.observed:
                seen = {
                    "seen": o.topic,
                    "partition": o.partition,
                    "offset": o.offset,
                    "key": (o.key or b"").decode(errors="replace"),
                    "ce_id": o.headers.get("ce_id", b"").decode(errors="replace"),
                    "ce_type": o.headers.get("ce_type", b"").decode(errors="replace"),
                    "dlt_kind": o.headers.get("onramp.dlt.kind", b"").decode(errors="replace"),
                }
                out.write(json.dumps(seen) + "\n")


WATCHED = (topics.FEEDBACK, topics.ROLLOUT, *topics.DLT_TOPICS)


class Observer:
    """Tails every topic the services write to (their own events and the dead-letter topics)
    from the beginning, without a consumer group, into ``history.observed``."""

    def __init__(self, history: History, bootstrap: str) -> None:
        self._history = history
        self._bootstrap = bootstrap
        self._task: asyncio.Task[None] | None = None
        self.last_record_at = time.monotonic()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        await consumer.topics()  # metadata of every topic, so that partitions_for_topic knows
        parts = []
        for topic in WATCHED:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer.stop()
                raise RuntimeError(f"topic {topic} has no partitions")
            parts += [TopicPartition(topic, p) for p in found]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        self._task = asyncio.create_task(self._tail(consumer))

    async def _tail(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                try:
                    batch = await consumer.getmany(timeout_ms=100)
                except KafkaError:
                    await asyncio.sleep(0.2)
                    continue
                for records in batch.values():
                    for r in records:
                        self._history.observed.append(_observed(r))
                        self.last_record_at = time.monotonic()
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _observed(record: Any) -> Observed:
    headers = {k: bytes(v or b"") for k, v in record.headers or ()}
    data: Any = None
    if record.value is not None and not record.topic.endswith(".dlt"):
        with contextlib.suppress(ValueError):
            data = from_json(record.value)
    return Observed(record.topic, record.partition, record.offset, record.key, headers, data)
