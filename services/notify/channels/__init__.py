"""External channels: email over SMTP and chat webhooks.

The clients are the standard library's (``smtplib``, ``urllib``), run in daemon threads so that
a slow server never blocks the event loop and a hung connection cannot hold up a shutdown. Each
channel takes a batch and answers one :class:`Result` per message; nothing here touches the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Message:
    key: int  # the delivery id
    channel: str
    address: str  # email address or webhook URL
    subject: str
    body: str
    locale: str
    message_id: str  # the same on every attempt, so receivers can drop a repeat


@dataclass(frozen=True, slots=True)
class Result:
    key: int
    ok: bool
    permanent: bool = False  # retrying cannot help
    error: str = ""


class Channel(Protocol):
    async def send(self, messages: Sequence[Message]) -> list[Result]: ...


def _unless_done(future: asyncio.Future[Any], settle: Callable[[], None]) -> None:
    if not future.done():  # the awaiting task may have been cancelled meanwhile
        settle()


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """Run blocking ``work`` in a daemon thread; cancelling the await abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            settle = functools.partial(future.set_result, work())
        except BaseException as exc:  # handed over to the awaiting task
            settle = functools.partial(future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed (shutdown): nobody waits
            loop.call_soon_threadsafe(_unless_done, future, settle)

    threading.Thread(target=run, name="onramp-notify-send", daemon=True).start()
    return await future
