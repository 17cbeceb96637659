"""The embedded broker and database the runner and the test sessions start (onramp.backends)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from onramp.backends import (
    BackendError,
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topic,
    create_topics,
    free_port,
    kafka_metadata_answers,
    start_broker,
    start_postgres,
    wait_for_kafka,
    wait_for_postgres,
)
from shared.events import topics


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    embedded = start_broker(free_port(), log_path=log_path)
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    embedded = start_postgres(tmp_path_factory.mktemp("pg") / "pgdata")
    yield embedded
    embedded.stop()


def unique_topic() -> str:
    return f"test.backends.{uuid.uuid4().hex[:12]}"


async def test_a_record_goes_through_the_broker(broker: EmbeddedBroker) -> None:
    topic = unique_topic()
    await create_topic(broker.bootstrap, topic, partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"rollout-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"rollout-1", b"hello")


async def test_create_topics_makes_every_topic_and_dead_letter_topic_once(
    broker: EmbeddedBroker,
) -> None:
    await create_topics(broker.bootstrap, partitions=4)
    await create_topics(broker.bootstrap, partitions=4)  # already there: no error

    expected = {*topics.ALL_TOPICS, *(topics.dlt(t) for t in topics.ALL_TOPICS)}
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(sorted(expected))
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(expected, 4)


async def test_a_killed_broker_restarts_on_the_same_port_empty(
    tmp_path: Path,
) -> None:
    embedded = start_broker(free_port(), log_path=tmp_path / "broker.log")
    try:
        topic = unique_topic()
        await create_topic(embedded.bootstrap, topic)
        embedded.kill()
        assert not kafka_metadata_answers("127.0.0.1", embedded.port)

        embedded.restart()

        await wait_for_kafka(embedded.bootstrap, timeout=5)
        admin = AIOKafkaAdminClient(bootstrap_servers=embedded.bootstrap)
        await admin.start()
        try:
            assert topic not in await admin.list_topics()  # storage is in memory
        finally:
            await admin.close()
    finally:
        embedded.stop()


def test_a_broker_on_a_taken_port_fails_fast_naming_the_holder(broker: EmbeddedBroker) -> None:
    started = time.monotonic()
    holder = f"taken by pid {broker.pid}, embedded broker started by pid {os.getpid()}"
    with pytest.raises(BackendError, match=holder):
        start_broker(broker.port)
    assert time.monotonic() - started < 5


async def test_postgres_keeps_its_data_across_stop_and_start(postgres: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO kept VALUES (42)")
    finally:
        await conn.close()

    postgres.stop()
    assert not postgres.is_running()
    with pytest.raises(TimeoutError):
        await wait_for_postgres(postgres.url, timeout=0.2)
    postgres.start()

    await wait_for_postgres(postgres.url, timeout=5)
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT id FROM kept") == 42
        assert await conn.fetchval("SELECT current_database()") == "onramp"
    finally:
        await conn.close()


async def test_postgres_recovers_after_an_immediate_stop(postgres: EmbeddedPostgres) -> None:
    postgres.stop(immediate=True)
    postgres.start()
    await wait_for_postgres(postgres.url, timeout=5)


async def test_waiting_for_an_absent_backend_times_out() -> None:
    with pytest.raises(TimeoutError, match="Kafka"):
        await wait_for_kafka(f"127.0.0.1:{free_port()}", timeout=0.3)
    with pytest.raises(TimeoutError, match="PostgreSQL"):
        await wait_for_postgres("postgresql://postgres@/onramp?host=/nonexistent", timeout=0.3)


def test_stopping_leaves_no_process_behind(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    embedded_broker = start_broker(free_port())
    embedded_postgres = start_postgres(pgdata)
    pids = [embedded_broker.pid, embedded_postgres.pid, *children(embedded_postgres.pid)]

    embedded_broker.stop()
    embedded_postgres.stop()

    assert not [pid for pid in pids if alive(pid)]
    assert not processes_mentioning(str(pgdata))
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", embedded_broker.port)) != 0


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def children(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(text in arg for arg in proc.info["cmdline"] or []):
            found.append(proc.info["pid"])
    return found
