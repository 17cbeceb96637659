"""Wake a background loop on a PostgreSQL NOTIFY, with polling as the fallback.

LISTEN makes the outbox relay and the scheduler react within milliseconds of a commit; the poll
interval bounds the delay when a notification is missed (listener reconnecting, database restart).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from shared import db
from shared.logs import get_logger

log = get_logger("onramp.wakeup")


class Waker:
    def __init__(self, url: str, schema: str, channel: str) -> None:
        self._url = url
        self._schema = schema
        self._channel = channel
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None

    def _on_notify(self, *_: Any) -> None:
        self._event.set()

    async def _ensure_listening(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            self._conn = await db.connect(self._url, self._schema)
            await self._conn.add_listener(self._channel, self._on_notify)
            self._event.set()  # anything committed while nobody listened: look once more
        except db.TRANSIENT_ERRORS as exc:
            self._conn = None
            log.warning("wakeup.listen_failed", channel=self._channel, error=str(exc))

    def wake(self) -> None:
        self._event.set()

    def forget(self) -> None:
        """Drop notifications received so far: the caller is about to look anyway. One that
        arrives later still ends the next :meth:`wait` at once."""
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        """Return on a notification, on :meth:`wake`, or after ``timeout`` seconds."""
        await self._ensure_listening()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the event is set, and the loop around this call would never end.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        self._event.clear()

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None
