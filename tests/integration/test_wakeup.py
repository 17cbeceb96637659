"""A loop waiting on a ``Waker`` ends when it is cancelled, even as a wake-up arrives."""

from __future__ import annotations

import asyncio

import pytest

from shared.settings import Settings
from shared.wakeup import Waker
from tests.support.polling import eventually


async def test_a_cancellation_that_arrives_with_a_wake_up_ends_the_waiting_loop(
    settings: Settings, schema: str
) -> None:
    """On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that arrives in the same
    turn of the event loop as the event it waits for; a relay or scheduler loop around it then
    never ended, and whoever awaited its task on shutdown hung."""
    assert settings.database_url
    waker = Waker(settings.database_url, schema, f"{schema}.test")
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            turns += 1
            await waker.wait(30)

    async def waiting_again() -> bool:  # listening, and waiting for the next wake-up
        return turns >= 2

    task = asyncio.create_task(loop())
    try:
        await eventually(waiting_again)
        waker.wake()
        task.cancel()  # in the same turn as the wake-up
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(10):
                await task
    finally:
        task.cancel()
        await waker.close()
