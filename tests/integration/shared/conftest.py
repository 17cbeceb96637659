"""Fixtures for the consumer wrapper's batch path and its aiokafka runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import db
from shared.events import CloudEvent, KafkaRecord
from shared.kafka import Publisher
from shared.settings import Settings


@pytest.fixture
async def effects(pool: db.Pool) -> db.Pool:
    await pool.execute("CREATE TABLE effects (event_id text NOT NULL, staff_id text NOT NULL)")
    return pool


async def record_effect(conn: db.Conn, event: CloudEvent[Any]) -> None:
    await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.data.staff_id)


async def effect_ids(pool: db.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM effects ORDER BY event_id")
    return [r["event_id"] for r in rows]


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[Publisher]:
    started = Publisher(settings, client_id="test-batches")
    yield started
    await started.stop()


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
    await started.start()
    yield started
    await started.stop()


async def send(producer: AIOKafkaProducer, record: KafkaRecord, partition: int = 0) -> None:
    await producer.send_and_wait(
        record.topic,
        record.value,
        key=record.key,
        headers=list(record.headers),
        partition=partition,
    )
