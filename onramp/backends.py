"""Embedded development backends: a Tansu broker, PostgreSQL from a wheel, and the topics.

Used by the local runner (``python -m onramp.devstack``) and by the test sessions. Nothing here
holds global state: each call starts or talks to the backend it is given. The broker lives in
``onramp.broker``, PostgreSQL in ``onramp.postgres``; both are re-exported here. This module
waits for either backend to answer and creates the topics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from onramp.base import POLL_INTERVAL_S, BackendError, child_output, pid_alive, poll_until
from onramp.broker import EmbeddedBroker, kafka_metadata_answers, start_broker
from onramp.ports import free_port, port_free
from onramp.postgres import EmbeddedPostgres, start_postgres
from shared.events.topics import ALL_TOPICS, dlt

__all__ = [
    "BackendError",
    "EmbeddedBroker",
    "EmbeddedPostgres",
    "apoll_until",
    "child_output",
    "create_topic",
    "create_topics",
    "free_port",
    "kafka_metadata_answers",
    "pid_alive",
    "poll_until",
    "port_free",
    "start_broker",
    "start_postgres",
    "wait_for_kafka",
    "wait_for_postgres",
]

# ---------------------------------------------------------------------------------- readiness


async def apoll_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Await ``check`` until it returns True; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
        await asyncio.sleep(POLL_INTERVAL_S)


async def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until a Kafka client can bootstrap (fetch cluster metadata) from ``bootstrap``."""

    async def answers() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            await admin.close()

    await apoll_until(answers, timeout, f"Kafka at {bootstrap}")


async def wait_for_postgres(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` accepts a connection and answers ``SELECT 1``."""

    async def answers() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    await apoll_until(answers, timeout, "PostgreSQL")


# ------------------------------------------------------------------------------------- topics


async def create_topics(bootstrap: str, *, partitions: int = 6) -> None:
    """Create every Onramp topic and its dead-letter topic; existing ones are left as they are."""
    names = [*ALL_TOPICS, *(dlt(name) for name in ALL_TOPICS)]
    await _create_topics(bootstrap, names, partitions)


async def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    """Create one topic (tests use unique names); an existing one is left as it is."""
    await _create_topics(bootstrap, [name], partitions)


async def _create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        for name, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise BackendError(f"creating topic {name} failed with Kafka error {code}")
        await apoll_until(lambda: _all_have_leaders(admin, names), 10.0, "topic leaders")
    finally:
        await admin.close()


async def _all_have_leaders(admin: AIOKafkaAdminClient, names: Sequence[str]) -> bool:
    described = await admin.describe_topics(list(names))
    return len(described) == len(names) and all(
        t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        for t in described
    )
