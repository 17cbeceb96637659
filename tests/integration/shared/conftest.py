"""Fixtures for the consumer wrapper's batch path and its aiokafka runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.kafka import Publisher
from shared.settings import Settings


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[Publisher]:
    started = Publisher(settings, client_id="test-batches")
    yield started
    await started.stop()
