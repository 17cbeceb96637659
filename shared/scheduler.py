"""Durable timers: rows in the service's schema, fired by whichever instance claims them first.

A timer is claimed with ``FOR UPDATE SKIP LOCKED`` and deleted in the same transaction as its
handler's effect, so a restart never loses a due timer and two instances never fire one twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import db
from shared.logs import get_logger
from shared.metrics import TIMERS_FIRED
from shared.wakeup import Waker

log = get_logger("onramp.scheduler")


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[db.Conn, Timer], Awaitable[None]]


async def schedule(
    conn: db.Conn, kind: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None
) -> None:
    """Set (or move) the timer ``(kind, key)``; committed with the caller's transaction."""
    await conn.execute(
        """INSERT INTO timers (kind, key, due_at, payload) VALUES ($1, $2, $3, $4)
           ON CONFLICT (kind, key) DO UPDATE
           SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,
               attempts = 0, last_error = NULL""",
        kind,
        key,
        due_at,
        payload or {},
    )


async def cancel(conn: db.Conn, kind: str, key: str) -> bool:
    status = await conn.execute("DELETE FROM timers WHERE kind = $1 AND key = $2", kind, key)
    return status != "DELETE 0"


class Scheduler:
    def __init__(
        self,
        pool: db.Pool,
        handlers: Mapping[str, TimerHandler],
        *,
        url: str,
        schema: str,
        poll_interval_s: float,
        batch_size: int = 50,
        max_backoff_s: float = 300.0,
    ) -> None:
        self._pool = pool
        self._handlers = handlers
        self._schema = schema
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._max_backoff_s = max_backoff_s
        self._waker = Waker(url, schema, f"{schema}.timers")

    async def fire_one(self) -> bool:
        """Fire the earliest due timer, if any. False when nothing is due."""
        return await self.fire_due(1) > 0

    async def fire_due(self, limit: int) -> int:
        """Fire up to ``limit`` due timers, earliest first, in one transaction; how many fired.

        Each timer is deleted and handled under its own savepoint, so a failing handler keeps
        only its own timer (for a retry later). A timer an earlier handler of the batch cancelled
        or moved is left alone, exactly as if the timers had fired one transaction each. A
        transient database error rolls the whole batch back; its timers fire on the next try.
        """
        fired: list[Timer] = []
        async with db.transaction(self._pool) as conn:
            claimed = await conn.fetch(
                """SELECT id, due_at FROM timers WHERE due_at <= now()
                   ORDER BY due_at, id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                limit,
            )
            for id_, due_at in claimed:
                row = await conn.fetchrow(
                    """DELETE FROM timers WHERE id = $1 AND due_at = $2
                       RETURNING id, kind, key, due_at, payload, attempts""",
                    id_,
                    due_at,
                )
                if row is None:  # cancelled or moved by an earlier handler of this batch
                    continue
                timer = Timer(**dict(row))
                try:
                    async with conn.transaction():  # a savepoint: a failing handler keeps the timer
                        await self._handlers[timer.kind](conn, timer)
                except Exception as exc:
                    if db.is_transient(exc):
                        raise
                    await self._retry_later(conn, timer, exc)
                    continue
                fired.append(timer)
        for timer in fired:
            TIMERS_FIRED.labels(self._schema, timer.kind).inc()
        return len(claimed)

    async def _retry_later(self, conn: db.Conn, timer: Timer, exc: Exception) -> None:
        delay = min(self._max_backoff_s, 2.0**timer.attempts)
        log.warning("scheduler.timer_failed", kind=timer.kind, key=timer.key, error=repr(exc))
        await conn.execute(
            """INSERT INTO timers (kind, key, due_at, payload, attempts, last_error)
               VALUES ($1, $2, now() + $3::interval, $4, $5, $6)
               ON CONFLICT (kind, key) DO NOTHING""",
            timer.kind,
            timer.key,
            timedelta(seconds=delay),
            timer.payload,
            timer.attempts + 1,
            repr(exc)[:1000],
        )

    async def _seconds_to_next(self) -> float:
        async with self._pool.acquire() as conn:
            due = await conn.fetchval("SELECT extract(epoch FROM min(due_at) - now()) FROM timers")
        if due is None:
            return self._poll_interval_s
        return max(0.0, min(float(due), self._poll_interval_s))

    async def run(self) -> None:
        backoff = 0.0
        while True:
            try:
                while await self.fire_due(self._batch_size):
                    pass
                wait = await self._seconds_to_next()
                backoff = 0.0
            except Exception as exc:
                backoff = min(max(backoff * 2, 0.1), 5.0)
                log.warning("scheduler.failed", schema=self._schema, error=repr(exc))
                wait = backoff
            if wait > 0:
                await self._waker.wait(wait)

    async def close(self) -> None:
        await self._waker.close()
