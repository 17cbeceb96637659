"""Transactional outbox: events are rows written with the change, published by a relay.

A 2xx therefore means the state and its event are committed together; a rolled-back change
leaves no event. The relay publishes at least once: a crash between publish and "mark sent"
publishes the batch again, and every consumer deduplicates through its inbox.
"""

from __future__ import annotations

import asyncio

import asyncpg
from pydantic import BaseModel

from shared import db
from shared.events import CloudEvent, KafkaRecord, to_record
from shared.kafka import Publisher
from shared.logs import get_logger
from shared.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED
from shared.wakeup import Waker

log = get_logger("onramp.outbox")


async def add(conn: db.Conn, event: CloudEvent[BaseModel], *, topic: str, key: str) -> None:
    """Stage ``event`` for publishing; it goes out only if the surrounding transaction commits."""
    record = to_record(event, topic=topic, key=key)
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           VALUES ($1, $2, $3, $4, $5)""",
        event.id,
        record.topic,
        record.key,
        record.value,
        [[name, value.decode()] for name, value in record.headers],
    )


def _record(row: asyncpg.Record) -> KafkaRecord:
    return KafkaRecord(
        topic=row["topic"],
        key=row["key"],
        value=row["value"],
        headers=tuple((name, value.encode()) for name, value in row["headers"]),
    )


class OutboxRelay:
    """Publishes committed outbox rows in commit order, one batch per transaction."""

    def __init__(
        self,
        pool: db.Pool,
        publisher: Publisher,
        *,
        url: str,
        schema: str,
        batch_size: int,
        poll_interval_s: float,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._waker = Waker(url, schema, f"{schema}.outbox")
        self.healthy = True  # False while publishing fails (broker or database unreachable)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent.

        The advisory lock keeps one relay per schema publishing at a time, so several instances
        of a service never reorder a rollout's events; SKIP LOCKED keeps claims non-blocking.
        """
        async with db.transaction(self._pool) as conn:
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('onramp.outbox.' || $1))", self._schema
            ):
                return 0
            rows = await conn.fetch(
                """SELECT id, topic, key, value, headers, created_at FROM outbox
                   WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if not rows:
                OUTBOX_LAG.labels(self._schema).set(0)
                return 0
            await self._publisher.send_all([_record(r) for r in rows])
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        return len(rows)

    async def run(self) -> None:
        """Relay until cancelled; failures (broker or database down) back off and retry."""
        backoff = 0.0
        while True:
            try:
                sent = await self.relay_once()
                if not self.healthy:
                    log.info("outbox.recovered", schema=self._schema)
                self.healthy, backoff = True, 0.0
            except Exception as exc:  # the database's and the broker's errors alike
                self.healthy, backoff = False, min(max(backoff * 2, 0.1), 5.0)
                log.warning(
                    "outbox.relay_failed", schema=self._schema, error=repr(exc), retry_in=backoff
                )
                await self._publisher.stop()
                await asyncio.sleep(backoff)
                continue
            if sent < self._batch_size:
                await self._waker.wait(self._poll_interval_s)

    async def close(self) -> None:
        await self._waker.close()
