"""Sending records and reading topics back in tests, with the real broker."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.events import KafkaRecord


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning, once at least ``expect`` have arrived.

    Reads on for a short quiet period after that, so a test also sees unexpected extra records.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            fresh = [r for rs in batch.values() for r in rs]
            records.extend(fresh)
            if len(records) >= expect:
                if quiet_until is None or fresh:
                    quiet_until = time.monotonic() + 0.5
                elif time.monotonic() > quiet_until:
                    break
    finally:
        await consumer.stop()
    return records


async def send(
    producer: AIOKafkaProducer, record: KafkaRecord, partition: int | None = None
) -> None:
    """``record`` as an external producer sends it, acknowledged before this returns."""
    await producer.send_and_wait(
        record.topic,
        record.value,
        key=record.key,
        headers=list(record.headers),
        partition=partition,
    )
