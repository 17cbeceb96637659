"""The plain-aiokafka runtime, Onramp's default: the same wrapper as the faust agents.

faust spends several times aiokafka's CPU per record before the wrapper sees it, and its
consumer skips records whose offsets it believes it has read (which loses records when a log
starts again from offset 0, see docs/runtimes.md). Every topic not listed in
``ONRAMP_KAFKA_FAUST_TOPICS`` (by default: all of them) runs here, on one consumer per service in
the group ``onramp-<service>`` (faust agents use ``onramp-<service>-faust``). The rules are the
faust agents' rules:

- each fetch (up to ``ONRAMP_CONSUMER_BATCH_SIZE`` records) is handed, one batch per topic, to
  the topic's :class:`~shared.consumer.RecordProcessor`, each partition's records in their
  order (one transaction per batch; topics run side by side). A fetch is decoded while the one
  before it is applied and committed, and applied only after that;
- a fetch that cannot be applied (a rebalance took one of its partitions, or something
  unexpected failed) is rewound: its partitions seek back to its first offsets;
- offsets are committed by hand, only after the wrapper returned for every batch of the fetch
  (effects committed or records dead-lettered); nothing is auto-committed;
- on a rebalance, the batch in hand finishes and is committed before the partitions are given
  up; on stop, likewise, then the consumer leaves its group;
- ``assigned`` (for readiness) is true once the group is joined and no rebalance is under way.

A commit that fails (the group moved on, the broker went away) is logged and left: the records
are delivered again and the inbox turns them into duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import KafkaError

from shared.consumer import Prepared, RawRecord, RecordProcessor
from shared.kafka import client_options
from shared.logs import get_logger
from shared.settings import Settings

log = get_logger("onramp.consumer")

_IDLE_FETCH_MS = 500  # how long one fetch call may wait when nothing arrives
_ERROR_BACKOFF_S = 0.5
_CONNECT_BACKOFF_S = 2.0


class BatchConsumer:
    """One aiokafka consumer running the wrapper over some topics of one service."""

    def __init__(
        self,
        *,
        group_id: str,
        processors: Mapping[str, RecordProcessor],
        settings: Settings,
    ) -> None:
        self.group_id = group_id
        self._processors = dict(processors)
        self._batch_size = settings.consumer_batch_size
        self._options: dict[str, Any] = {
            **client_options(settings),
            "group_id": group_id,
            "client_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
            "max_poll_records": settings.consumer_batch_size,
            "session_timeout_ms": int(settings.kafka_session_timeout_s * 1000),
            "heartbeat_interval_ms": int(settings.kafka_heartbeat_interval_s * 1000),
            "rebalance_timeout_ms": int(settings.kafka_rebalance_timeout_s * 1000),
            "partition_assignment_strategy": (RoundRobinPartitionAssignor,),
        }
        self._consumer = self._new_consumer()
        self._started = False
        self._applying = asyncio.Lock()  # held from handing a fetch over to its commit
        self._joined = False
        self._rebalancing = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[str]:
        return list(self._processors)

    @property
    def stopping(self) -> bool:
        """``stop`` was called: no new fetch is applied."""
        return self._closing

    @property
    def assigned(self) -> bool:
        """The group has been joined and no rebalance is under way."""
        return self._joined and not self._rebalancing

    async def start(self) -> None:
        """Connect and consume in the background: a broker that is away when the service starts
        delays consuming (the instance stays unready) instead of failing the start."""
        self._task = asyncio.create_task(self._main(), name=f"{self.group_id}.run")

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(**self._options)
        consumer.subscribe(self.topics, listener=_Listener(self))
        return consumer

    async def _main(self) -> None:
        while True:
            try:
                await self._consumer.start()
                break
            except KafkaError as exc:
                log.warning("consumer.connect_failed", consumer=self.group_id, error=repr(exc))
                await self._consumer.stop()
                self._consumer = self._new_consumer()
                await asyncio.sleep(_CONNECT_BACKOFF_S)
        self._started = True
        await self._run()

    async def stop(self, timeout: float) -> None:
        """Let the fetch in hand finish and commit (within ``timeout``), then leave the group.

        Call it after the processors were drained, so that no new fetch is handed over.
        """
        self._closing = True
        try:
            async with asyncio.timeout(timeout), self._applying:
                pass
        except TimeoutError:
            log.warning("consumer.drain_timeout", consumer=self.group_id)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._started:
            await self._consumer.stop()

    async def _run(self) -> None:
        """Fetch, decode, apply, commit; a fetch is decoded while the previous one is applied
        and committed (CPU here, database round trips there), and applied only after it."""
        ahead: asyncio.Task[_Done] | None = None
        try:
            while True:
                try:
                    fetched = await self._consumer.getmany(
                        timeout_ms=_IDLE_FETCH_MS, max_records=self._batch_size
                    )
                except Exception as exc:  # the broker went away: the client reconnects
                    log.warning("consumer.fetch_failed", consumer=self.group_id, error=repr(exc))
                    await asyncio.sleep(_ERROR_BACKOFF_S)
                    continue
                if not fetched:
                    continue
                fetch = self._prepare(fetched)
                if ahead is not None:
                    done, ahead = await ahead, None
                    if done is _Done.CLOSING:
                        return
                    if done is _Done.FAILED:
                        continue  # rewound: fetched again from where the failed one began
                ahead = asyncio.create_task(self._apply(fetch))
        finally:
            if ahead is not None and not ahead.done():
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead

    def _prepare(self, fetched: Mapping[TopicPartition, Sequence[Any]]) -> _Fetch:
        by_topic: dict[str, list[RawRecord]] = {}
        for tp, messages in fetched.items():  # each partition's records stay in order
            by_topic.setdefault(tp.topic, []).extend(RawRecord.of(m) for m in messages)
        return _Fetch(
            starts={tp: messages[0].offset for tp, messages in fetched.items()},
            ends={tp: messages[-1].offset + 1 for tp, messages in fetched.items()},
            batches={t: self._processors[t].prepare(records) for t, records in by_topic.items()},
        )

    async def _apply(self, fetch: _Fetch) -> _Done:
        """Apply one fetch and commit it."""
        async with self._applying:
            if self._closing or any(p.closing for p in self._processors.values()):
                return _Done.CLOSING
            if set(fetch.ends) - self._consumer.assignment():
                # A rebalance took a partition away (or reset positions): fetch again rather
                # than pick records out of a decoded batch.
                self._rewind(fetch)
                return _Done.FAILED
            try:
                await asyncio.gather(
                    *(self._processors[t].apply(b) for t, b in fetch.batches.items())
                )
            except Exception:
                log.exception("consumer.batch_crashed", consumer=self.group_id)
                self._rewind(fetch)
                await asyncio.sleep(_ERROR_BACKOFF_S)
                return _Done.FAILED
            await self._commit(fetch.ends)
        return _Done.APPLIED

    def _rewind(self, fetch: _Fetch) -> None:
        """Deliver the fetch again: nothing of it may be committed past."""
        owned = self._consumer.assignment()
        for tp, offset in fetch.starts.items():
            if tp in owned:
                self._consumer.seek(tp, offset)

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self._consumer.commit(dict(offsets))
        except KafkaError as exc:
            # Delivered again to whoever owns the partition now; the inbox makes it harmless.
            log.warning("consumer.commit_failed", consumer=self.group_id, error=repr(exc))

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        self._rebalancing = True
        async with self._applying:  # the fetch in hand finishes and commits first
            pass

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._joined = True
        self._rebalancing = False
        log.info(
            "consumer.assigned",
            consumer=self.group_id,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


class _Done(Enum):
    APPLIED = "applied"
    FAILED = "failed"  # rewound: the records are fetched again
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class _Fetch:
    starts: dict[TopicPartition, int]  # first offset of each partition in the fetch
    ends: dict[TopicPartition, int]  # the offset to commit once it is applied
    batches: dict[str, Prepared]  # by topic


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._owner._on_assigned(assigned)
