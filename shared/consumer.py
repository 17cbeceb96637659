"""The one consumer wrapper every agent uses: decode → inbox claim → handler in one
transaction → retry transient failures → dead-letter permanent ones.

It never raises into faust (faust acknowledges a record whose agent raised); the agent
acknowledges a record only after :meth:`RecordProcessor.process` returns, that is after the
effect committed or the record reached its dead-letter topic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

from shared import db, inbox
from shared.events import CloudEvent, KafkaRecord, PoisonRecord, decode, dlt
from shared.kafka import Publisher
from shared.logs import get_logger
from shared.metrics import HANDLER_SECONDS, RECORDS, RETRIES

log = get_logger("onramp.consumer")

Handler = Callable[[db.Conn, CloudEvent[Any]], Awaitable[None]]


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
        self._closing = False

    async def process(self, record: RawRecord) -> Outcome:
        if self._closing:  # draining for shutdown: leave the record for the next owner
            await asyncio.Event().wait()
        self._idle.clear()
        started = time.perf_counter()
        try:
            outcome = await self._process(record)
        finally:
            self._idle.set()
        RECORDS.labels(self.consumer, outcome.value).inc()
        HANDLER_SECONDS.labels(self.consumer).observe(time.perf_counter() - started)
        return outcome

    async def drain(self, timeout: float) -> None:
        """Finish the record in hand (if any) and take no more."""
        self._closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("consumer.drain_timeout", consumer=self.consumer)

    async def _process(self, record: RawRecord) -> Outcome:
        try:
            event = decode(record.value, record.headers, max_bytes=self._max_record_bytes)
        except PoisonRecord as poison:
            await self._dead_letter(record, poison.kind, poison.message, attempts=1)
            return Outcome.DEAD_LETTERED
        handler = self._handlers.get(event.type)
        if handler is None:
            return Outcome.IGNORED  # a known type this consumer has no use for
        attempt = 1
        while True:
            try:
                return await self._apply(handler, event)
            except Exception as exc:
                delay = self._policy.next_delay(exc, attempt)
                if delay is None:
                    kind = "rejected" if isinstance(exc, Rejected) else "handler_error"
                    message = f"{type(exc).__name__}: {exc}"
                    await self._dead_letter(record, kind, message, attempts=attempt)
                    return Outcome.DEAD_LETTERED
                RETRIES.labels(self.consumer).inc()
                log.warning(
                    "consumer.retry",
                    consumer=self.consumer,
                    event_id=event.id,
                    attempt=attempt,
                    error=type(exc).__name__,
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def _apply(self, handler: Handler, event: CloudEvent[BaseModel]) -> Outcome:
        async with db.transaction(self._pool) as conn:
            if not await inbox.claim(conn, self.consumer, event.source, event.id):
                return Outcome.DUPLICATE
            await handler(conn, event)
        return Outcome.APPLIED

    async def _dead_letter(self, record: RawRecord, kind: str, message: str, attempts: int) -> None:
        """Publish to ``<topic>.dlt``, retrying until the broker takes it: the record must not
        be acknowledged before its dead letter is safe."""
        dead = dead_letter_record(
            record, consumer=self.consumer, kind=kind, message=message, attempts=attempts
        )
        delay = self._policy.initial_backoff_s
        while True:
            try:
                await self._publisher.send_all([dead])
                break
            except Exception as exc:
                log.warning("consumer.dead_letter_failed", consumer=self.consumer, error=repr(exc))
                await self._publisher.stop()
                await asyncio.sleep(delay)
                delay = min(self._policy.max_backoff_s, delay * 2)
        log.warning(
            "consumer.dead_lettered",
            consumer=self.consumer,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            kind=kind,
            reason=message[:200],
        )
