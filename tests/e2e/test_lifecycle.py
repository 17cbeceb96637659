"""Each service stops cleanly on SIGTERM, within the 10 s DESIGN §8 allows, and comes back."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import SERVICES, Stack


@pytest.mark.parametrize("name", SERVICES)
async def test_sigterm_stops_within_ten_seconds_and_the_service_restarts(
    stack: Stack, name: str
) -> None:
    process = stack.services[name]
    started = time.monotonic()
    process.signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 10)
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is clean.
    assert code in (0, -signal.SIGTERM), f"{name} exited with {code} (see {process.log_path})"
    assert time.monotonic() - started < 10
    assert process.log_path is not None
    events = [json.loads(line).get("event") for line in _json_lines(process.log_path)]
    assert "service.stopped" in events  # the lifespan drained
    process.start()
    await process.wait_ready()


def _json_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("{")]
