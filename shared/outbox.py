"""Transactional outbox: events are rows written with the change, published by a relay.

A 2xx therefore means the state and its event are committed together; a rolled-back change
leaves no event. The outbox is a queue: the relay deletes what it published (the topic keeps
it). It publishes at least once: a crash between publishing a batch and deleting it publishes
the batch again, and every consumer deduplicates through its inbox.

A staged row wakes the relays of its own process once it commits (``db.after_commit``); a row
staged by another process (one without a relay, a script) wakes them through a NOTIFY, unless
its connections said they wake their own (``db.create_pool(notify_outbox=False)``).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from pydantic import BaseModel

from shared import db
from shared.events import CloudEvent, KafkaRecord, to_record
from shared.kafka import Publisher
from shared.logs import get_logger
from shared.metrics import OUTBOX_CONTENDED, OUTBOX_LAG, OUTBOX_PUBLISHED
from shared.wakeup import Waker

log = get_logger("onramp.outbox")

# After a wake-up, how long the relay lets further commits gather before it claims: under a
# steady stream of commits this turns one produce request and four statements per event into
# one per batch, for a few milliseconds more latency (docs/performance.md).
LINGER_S = 0.005
# How soon a relay tries again when another instance's relay holds the schema's relay lock: the
# other may have claimed before the rows that woke this one committed.
CONTENDED_RETRY_S = 0.02

# The relays of this process, woken once a transaction that staged a row commits.
_local_relays: weakref.WeakSet[Waker] = weakref.WeakSet()


def _wake_local_relays() -> None:
    for waker in _local_relays:
        waker.wake()


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
        _headers(record),
    )
    wake_on_commit(conn)


async def add_if_inserted(
    conn: db.Conn,
    insert: str,
    args: Sequence[object],
    event: CloudEvent[BaseModel],
    *,
    topic: str,
    key: str,
) -> bool:
    """Run ``insert`` (an INSERT ... RETURNING of at most one row, its parameters ``args``) and
    stage ``event`` only if it inserted, both in one statement: the common "store it unless
    stored before, and announce it" costs one round trip instead of two. True if it inserted."""
    staged: int = await conn.fetchval(
        f"""WITH inserted AS ({insert}),
                 staged AS ({staging(len(args) + 1, rows="inserted")})
            SELECT count(*) FROM staged""",
        *args,
        *staging_args(event, topic=topic, key=key),
    )
    if not staged:
        return False
    wake_on_commit(conn)
    return True


def staging(first: int, *, rows: str, resolved: str | None = None) -> str:
    """An INSERT that stages one event for each row of ``rows`` (a FROM list of the statement
    it is part of, such as a CTE that inserted the event's subject), for a statement that stores
    a change and stages its event in one round trip. Its parameters are ``$first`` to
    ``$first + 4``, in the order of :func:`staging_args`. ``resolved``, a ``jsonb`` object, is
    merged into the event's data: fields the statement itself looks up (for instance, from a
    projection). Call :func:`wake_on_commit` once the statement staged something."""
    value = f"${first + 3}::bytea"
    if resolved is not None:
        value = f"convert_to((convert_from({value}, 'UTF8')::jsonb || {resolved})::text, 'UTF8')"
    return f"""INSERT INTO outbox (event_id, topic, key, value, headers)
               SELECT ${first}::text, ${first + 1}::text, ${first + 2}::bytea, {value},
                      ${first + 4}::jsonb
               FROM {rows}
               RETURNING 1"""


def staging_args(event: CloudEvent[BaseModel], *, topic: str, key: str) -> tuple[object, ...]:
    """The parameters of :func:`staging` for ``event``."""
    record = to_record(event, topic=topic, key=key)
    return event.id, record.topic, record.key, record.value, _headers(record)


def wake_on_commit(conn: db.Conn) -> None:
    """Wake this process's relays once what ``conn`` staged is committed."""
    db.after_commit(conn, _wake_local_relays)


async def add_all(conn: db.Conn, staged: Sequence[tuple[CloudEvent[BaseModel], str, str]]) -> None:
    """Stage ``(event, topic, key)`` for each of many events, in this order, in one statement
    (a fan-out to thousands of recipients would otherwise cost a round trip per event)."""
    if not staged:
        return
    records = [to_record(event, topic=topic, key=key) for event, topic, key in staged]
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           SELECT event_id, topic, key, value, headers::jsonb
           FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[])
                WITH ORDINALITY AS staged (event_id, topic, key, value, headers, n)
           ORDER BY n""",
        [event.id for event, _, _ in staged],
        [record.topic for record in records],
        [record.key for record in records],
        [record.value for record in records],
        # As JSON text: asyncpg would read nested lists as a multi-dimensional array.
        [json.dumps(_headers(record)) for record in records],
    )
    wake_on_commit(conn)


def _headers(record: KafkaRecord) -> list[list[str]]:
    return [[name, value.decode()] for name, value in record.headers]


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
        linger_s: float = LINGER_S,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._linger_s = linger_s
        self._waker = Waker(url, schema, f"{schema}.outbox")
        _local_relays.add(self._waker)
        self.healthy = True  # False while publishing fails (broker or database unreachable)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent (none while another instance's
        relay publishes)."""
        return await self._relay_batch() or 0

    async def _relay_batch(self) -> int | None:
        """One batch: how many rows were sent, or None if another relay holds the lock.

        The advisory lock keeps one relay per schema publishing at a time, so several instances
        of a service never reorder a rollout's events; SKIP LOCKED keeps claims non-blocking.
        """
        async with db.transaction(self._pool) as conn:
            # Lock and claim in one round trip: one row saying the lock was not free, or one
            # per claimed outbox row (a single row of NULLs when nothing is waiting). The batch
            # commits without waiting for its WAL flush: a delete lost in a crash only publishes
            # the batch again, which at-least-once delivery allows anyway.
            rows = await conn.fetch(
                """WITH relay AS (
                       SELECT pg_try_advisory_xact_lock(hashtext('onramp.outbox.' || $2)) AS owns,
                              set_config('synchronous_commit', 'off', true) AS no_flush),
                   claimed AS (
                       SELECT o.id, o.topic, o.key, o.value, o.headers, o.created_at
                       FROM outbox o, relay WHERE relay.owns
                       ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED)
                   SELECT relay.owns, claimed.* FROM relay LEFT JOIN claimed ON true
                   ORDER BY claimed.id""",
                self._batch_size,
                self._schema,
            )
            if not rows[0]["owns"]:
                OUTBOX_CONTENDED.labels(self._schema).inc()
                return None
            if rows[0]["id"] is None:
                OUTBOX_LAG.labels(self._schema).set(0)
                return 0
            oldest = datetime.now(UTC) - rows[0]["created_at"]
            OUTBOX_LAG.labels(self._schema).set(max(0.0, oldest.total_seconds()))
            await self._publisher.send_all([_record(r) for r in rows])
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        return len(rows)

    async def run(self) -> None:
        """Relay until cancelled; failures (broker or database down) back off and retry."""
        backoff = 0.0
        while True:
            try:
                sent = await self._relay_batch()
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
            if sent is None:  # another instance publishes; what woke this one may be after it
                await asyncio.sleep(CONTENDED_RETRY_S)
            elif sent < self._batch_size:
                await self._waker.wait(self._poll_interval_s)
                await asyncio.sleep(self._linger_s)
                self._waker.forget()  # the commits of the linger are in the next claim

    async def close(self) -> None:
        await self._waker.close()
