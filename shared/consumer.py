"""The one consumer wrapper every runtime uses: decode → inbox claim → handler in one
transaction → retry transient failures → dead-letter permanent ones.

Records arrive in batches (a batch may hold one record). A batch is claimed in the inbox with
one statement and applied in one transaction; a handler may offer a batch form
(:class:`Batched`) that applies a run of its events at once. Every rule still holds per record:
a poison record is dead-lettered with its reasons and the others apply; when a handler fails on
a batch, the transaction rolls back and the batch is applied again record by record, so the bad
record is isolated and the others are neither lost nor doubled; transient database errors retry
the batch with backoff without limit.

It never raises into the runtime (faust acknowledges a record whose agent raised); the runtime
acknowledges a batch only after :meth:`RecordProcessor.process_batch` returns, that is after the
effects committed or the records reached their dead-letter topic.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from shared import db, inbox
from shared.events import CloudEvent, KafkaRecord, PoisonRecord, decode, dlt
from shared.kafka import Publisher
from shared.logs import get_logger
from shared.metrics import HANDLER_SECONDS, RECORDS, RETRIES

log = get_logger("onramp.consumer")

Handler = Callable[[db.Conn, CloudEvent[Any]], Awaitable[None]]
ManyHandler = Callable[[db.Conn, Sequence[CloudEvent[Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Batched:
    """A handler with a batch form. ``many`` applies consecutive events of one type (in
    partition order) at once and must have the effect of ``one`` applied to each in turn."""

    one: Handler
    many: ManyHandler

    async def __call__(self, conn: db.Conn, event: CloudEvent[Any]) -> None:
        await self.one(conn, event)


class Rejected(Exception):
    """Raised by a handler for a record that can never succeed (it is dead-lettered at once)."""


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, message: Any) -> RawRecord:
        """From a runtime's message: an aiokafka ``ConsumerRecord`` or a faust ``Message``
        (whose headers may be a mapping)."""
        headers = message.headers
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=raw_headers(headers.items() if isinstance(headers, Mapping) else headers),
        )


_VALUE = operator.itemgetter(1)


def raw_headers(
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> tuple[tuple[str, bytes], ...]:
    """Kafka headers as the wrapper takes them; a header without a value gets an empty one.

    The check runs in C: converting every header in Python costs as much as decoding the event.
    """
    found = tuple(headers or ())
    if None in map(_VALUE, found):
        return tuple((name, value or b"") for name, value in found)
    return found  # type: ignore[return-value]  # no None left


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Transient failures (database unavailable) retry without limit, with capped exponential
    backoff, because the record is fine and dropping it would lose it. Any other failure retries
    up to ``max_attempts`` and is then dead-lettered, so one bad record never blocks its
    partition."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 5.0

    def next_delay(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to dead-letter now."""
        if isinstance(exc, Rejected):
            return None
        if not db.is_transient(exc) and attempt >= self.max_attempts:
            return None
        doublings = min(attempt - 1, 60)  # an outage of hours must not overflow the float
        return float(min(self.max_backoff_s, self.initial_backoff_s * 2**doublings))


def dead_letter_record(
    record: RawRecord, *, consumer: str, kind: str, message: str, attempts: int
) -> KafkaRecord:
    """The original record, untouched, with the reasons in ``onramp.dlt.*`` headers."""
    reasons = {
        "onramp.dlt.topic": record.topic,
        "onramp.dlt.partition": str(record.partition),
        "onramp.dlt.offset": str(record.offset),
        "onramp.dlt.consumer": consumer,
        "onramp.dlt.kind": kind,
        "onramp.dlt.message": message[:1000],
        "onramp.dlt.attempts": str(attempts),
        "onramp.dlt.time": datetime.now(UTC).isoformat(),
    }
    return KafkaRecord(
        topic=dlt(record.topic),
        key=record.key,
        value=record.value,
        headers=record.headers + tuple((k, v.encode()) for k, v in reasons.items()),
    )


@dataclass(slots=True)
class _Item:
    """A decoded record with a handler, waiting to be applied."""

    index: int  # position in the batch
    record: RawRecord
    event: CloudEvent[Any]
    handler: Handler


@dataclass(slots=True)
class _InHand:
    """The record a per-record handler was applying when the batch failed (if known)."""

    item: _Item | None = None


@dataclass(slots=True)
class Prepared:
    """A decoded batch: outcomes known so far, poison records, and the work left."""

    started: float  # perf_counter at decode, for the decode-to-commit metric
    outcomes: list[Outcome]
    dead: list[tuple[RawRecord, str, str]] = field(default_factory=list)
    work: list[_Item] = field(default_factory=list)


def _runs(items: Sequence[_Item]) -> Iterator[tuple[Handler, list[_Item]]]:
    """Consecutive items with the same handler, in order (so per-key order holds)."""
    run: list[_Item] = []
    for item in items:
        if run and item.handler is not run[0].handler:
            yield run[0].handler, run
            run = []
        run.append(item)
    if run:
        yield run[0].handler, run


class RecordProcessor:
    """Applies records of one consumer (one service's subscription to one topic)."""

    def __init__(
        self,
        *,
        consumer: str,
        handlers: Mapping[str, Handler],
        pool: db.Pool,
        publisher: Publisher,
        policy: RetryPolicy,
        max_record_bytes: int,
    ) -> None:
        self.consumer = consumer
        self._handlers = handlers
        self._pool = pool
        self._publisher = publisher
        self._policy = policy
        self._max_record_bytes = max_record_bytes
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight = 0  # batches being applied
        self._records = {outcome: RECORDS.labels(consumer, outcome.value) for outcome in Outcome}
        self._handler_seconds = HANDLER_SECONDS.labels(consumer)
        self._closing = False

    @property
    def closing(self) -> bool:
        """Draining for shutdown: a batch handed over now is never applied."""
        return self._closing

    async def process(self, record: RawRecord) -> Outcome:
        [outcome] = await self.process_batch([record])
        return outcome

    async def process_batch(self, records: Sequence[RawRecord]) -> list[Outcome]:
        """Apply or dead-letter every record; returns one outcome per record, in order."""
        return await self.apply(self.prepare(records))

    def prepare(self, records: Sequence[RawRecord]) -> Prepared:
        """Decode a batch (CPU only: a runtime may do it while the previous batch commits)."""
        prepared = Prepared(time.perf_counter(), [Outcome.IGNORED] * len(records))
        for index, record in enumerate(records):
            try:
                event = decode(record.value, record.headers, max_bytes=self._max_record_bytes)
            except PoisonRecord as poison:
                prepared.dead.append((record, poison.kind, poison.message))
                prepared.outcomes[index] = Outcome.DEAD_LETTERED
                continue
            handler = self._handlers.get(event.type)
            if handler is not None:  # else a known type this consumer has no use for
                prepared.work.append(_Item(index, record, event, handler))
        return prepared

    async def apply(self, prepared: Prepared) -> list[Outcome]:
        """Dead-letter the poison records and apply the others of a prepared batch."""
        if self._closing:  # draining for shutdown: leave the records for the next owner
            await asyncio.Event().wait()
        self._in_flight += 1
        self._idle.clear()
        try:
            outcomes = await self._apply_prepared(prepared)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        elapsed = time.perf_counter() - prepared.started
        for outcome, count in Counter(outcomes).items():
            self._records[outcome].inc(count)
        for _ in outcomes:
            self._handler_seconds.observe(elapsed)  # decode to commit, per record
        return outcomes

    async def drain(self, timeout: float) -> None:
        """Finish the batches in hand (if any) and take no more."""
        self._closing = True
        try:
            async with asyncio.timeout(timeout):  # wait_for may swallow a cancellation (3.11)
                await self._idle.wait()
        except TimeoutError:
            log.warning("consumer.drain_timeout", consumer=self.consumer)

    async def _apply_prepared(self, prepared: Prepared) -> list[Outcome]:
        outcomes = list(prepared.outcomes)
        if prepared.dead:
            await self._dead_letter(prepared.dead, attempts=1)
        if prepared.work:
            work = prepared.work
            for item, outcome in zip(work, await self._apply_all(work), strict=True):
                outcomes[item.index] = outcome
        return outcomes

    async def _apply_all(self, work: list[_Item]) -> list[Outcome]:
        if len(work) == 1:
            return [await self._apply_one(work[0])]
        attempt = 1
        while True:
            in_hand = _InHand()
            try:
                return await self._apply_batch(work, in_hand)
            except Exception as exc:
                if not db.is_transient(exc):
                    return await self._one_by_one(work, in_hand, exc)
                delay = self._policy.next_delay(exc, attempt)
                assert delay is not None  # transient errors always retry
                self._log_retry(f"batch of {len(work)}", attempt, exc, delay)
                await asyncio.sleep(delay)
                attempt += 1

    async def _one_by_one(
        self, work: list[_Item], in_hand: _InHand, exc: Exception
    ) -> list[Outcome]:
        """The batch failed and rolled back: apply its records one at a time, so that only the
        bad one is retried and dead-lettered. The record known to have failed has had its first
        attempt."""
        log.warning(
            "consumer.batch_failed",
            consumer=self.consumer,
            size=len(work),
            error=type(exc).__name__,
        )
        outcomes = []
        for item in work:
            if item is in_hand.item:
                outcomes.append(await self._apply_one(item, failed_first=exc))
            else:
                outcomes.append(await self._apply_one(item))
        return outcomes

    async def _apply_batch(self, work: list[_Item], in_hand: _InHand) -> list[Outcome]:
        async with db.transaction(self._pool) as conn:
            keys = [(item.event.source, item.event.id) for item in work]
            fresh = await inbox.claim_many(conn, self.consumer, keys)
            outcomes: list[Outcome] = []
            todo: list[_Item] = []
            for item, key in zip(work, keys, strict=True):
                if key in fresh:
                    fresh.discard(key)  # a second copy within the batch is a duplicate
                    todo.append(item)
                    outcomes.append(Outcome.APPLIED)
                else:
                    outcomes.append(Outcome.DUPLICATE)
            for handler, run in _runs(todo):
                if isinstance(handler, Batched) and len(run) > 1:
                    in_hand.item = None  # which record failed is not known
                    await handler.many(conn, [item.event for item in run])
                    continue
                for item in run:
                    in_hand.item = item
                    await handler(conn, item.event)
            in_hand.item = None  # a failed commit is nobody's fault
        return outcomes

    async def _apply_one(self, item: _Item, failed_first: Exception | None = None) -> Outcome:
        attempt = 1
        exc: Exception | None = failed_first
        while True:
            if exc is None:
                try:
                    return await self._apply(item.handler, item.event)
                except Exception as failure:
                    exc = failure
            delay = self._policy.next_delay(exc, attempt)
            if delay is None:
                kind = "rejected" if isinstance(exc, Rejected) else "handler_error"
                message = f"{type(exc).__name__}: {exc}"
                await self._dead_letter([(item.record, kind, message)], attempts=attempt)
                return Outcome.DEAD_LETTERED
            self._log_retry(item.event.id, attempt, exc, delay)
            await asyncio.sleep(delay)
            attempt += 1
            exc = None

    def _log_retry(self, what: str, attempt: int, exc: BaseException, delay: float) -> None:
        RETRIES.labels(self.consumer).inc()
        log.warning(
            "consumer.retry",
            consumer=self.consumer,
            event_id=what,
            attempt=attempt,
            error=type(exc).__name__,
            retry_in=delay,
        )

    async def _apply(self, handler: Handler, event: CloudEvent[Any]) -> Outcome:
        async with db.transaction(self._pool) as conn:
            if not await inbox.claim(conn, self.consumer, event.source, event.id):
                return Outcome.DUPLICATE
            await handler(conn, event)
        return Outcome.APPLIED

    async def _dead_letter(self, dead: Sequence[tuple[RawRecord, str, str]], attempts: int) -> None:
        """Publish to ``<topic>.dlt``, retrying until the broker takes them all: no record may be
        acknowledged before its dead letter is safe."""
        letters = [
            dead_letter_record(
                record, consumer=self.consumer, kind=kind, message=message, attempts=attempts
            )
            for record, kind, message in dead
        ]
        delay = self._policy.initial_backoff_s
        while True:
            try:
                await self._publisher.send_all(letters)
                break
            except Exception as exc:
                log.warning("consumer.dead_letter_failed", consumer=self.consumer, error=repr(exc))
                await self._publisher.stop()
                await asyncio.sleep(delay)
                delay = min(self._policy.max_backoff_s, delay * 2)
        for record, kind, message in dead:
            log.warning(
                "consumer.dead_lettered",
                consumer=self.consumer,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                kind=kind,
                reason=message[:200],
            )
