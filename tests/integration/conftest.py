"""Fixtures of the integration tests that drive consumers through the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from shared import db
from shared.settings import Settings
from tests.support.effects import create_effects


@pytest.fixture
async def effects(pool: db.Pool) -> db.Pool:
    return await create_effects(pool)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
    await started.start()
    yield started
    await started.stop()
