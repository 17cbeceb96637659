"""Wait for a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.02
) -> T:
    """Return the first truthy result of ``check``; fail with the last result at the deadline."""
    deadline = time.monotonic() + timeout
    result = await check()
    while not result:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)
        result = await check()
    return result
