"""Test backends: the session starts the embedded broker and PostgreSQL itself (or uses
``ONRAMP_KAFKA_BOOTSTRAP`` / ``ONRAMP_DATABASE_URL``, or testcontainers with
``ONRAMP_TEST_BACKEND=docker``). Nothing skips when a backend is missing: the session fails."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from onramp.backends import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topic,
    create_topics,
    free_port,
    start_broker,
    start_postgres,
)
from shared import db, migrations
from shared.events import topics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET = "onramp-test-secret-of-at-least-32-bytes"


@dataclass
class Backends:
    bootstrap: str
    database_url: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None


def _docker_backends() -> Iterator[Backends]:
    """apache/kafka and postgres containers; needs a Docker engine (none on the dev machines)."""
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka,
        PostgresContainer("postgres:17", driver=None) as postgres,
    ):
        yield Backends(kafka.get_bootstrap_server(), postgres.get_connection_url())


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    if os.environ.get("ONRAMP_TEST_BACKEND") == "docker":
        yield from _docker_backends()
        return
    folder = tmp_path_factory.mktemp("backends")
    bootstrap = os.environ.get("ONRAMP_KAFKA_BOOTSTRAP")
    url = os.environ.get("ONRAMP_DATABASE_URL")
    found = Backends(bootstrap or "", url or "")
    try:
        if not bootstrap:
            found.broker = start_broker(free_port(), log_path=folder / "broker.log")
            found.bootstrap = found.broker.bootstrap
        if not url:
            found.postgres = start_postgres(folder / "pgdata")
            found.database_url = found.postgres.url
        asyncio.run(create_topics(found.bootstrap, partitions=6))
        yield found
    finally:
        if found.broker is not None:
            found.broker.stop()
        if found.postgres is not None:
            found.postgres.stop()


@pytest.fixture(scope="session")
def settings(backends: Backends) -> Settings:
    return Settings(
        kafka_bootstrap=backends.bootstrap,
        database_url=backends.database_url,
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        kafka_fetch_max_wait_ms=10,
        consumer_backoff_initial_s=0.01,
        outbox_poll_interval_s=0.5,
        scheduler_poll_interval_s=0.5,
    )


@pytest.fixture
async def schema(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh schema with the plumbing tables (outbox, inbox, timers), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    assert settings.database_url
    no_service_migrations = tmp_path / "migrations"
    no_service_migrations.mkdir()
    await migrations.apply(settings.database_url, name, no_service_migrations)
    yield name
    conn = await db.connect(settings.database_url, name)
    try:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pool(settings: Settings, schema: str) -> AsyncIterator[db.Pool]:
    assert settings.database_url
    created = await db.create_pool(settings.database_url, schema, max_size=4)
    yield created
    await created.close()


@pytest.fixture
async def topic(settings: Settings) -> str:
    """A fresh one-partition topic (and its dead-letter topic) for one test."""
    assert settings.kafka_bootstrap
    name = f"test.{uuid.uuid4().hex[:12]}"
    await create_topic(settings.kafka_bootstrap, name, partitions=1)
    await create_topic(settings.kafka_bootstrap, topics.dlt(name), partitions=1)
    return name


ServicePool = Callable[[str], Awaitable[db.Pool]]


@pytest.fixture
async def service_pool(settings: Settings) -> AsyncIterator[ServicePool]:
    """A factory: ``await service_pool("feedback")`` gives a pool on a fresh schema holding that
    service's migrations (plumbing included); schemas and pools go away after the test."""
    assert settings.database_url
    url = settings.database_url
    made: list[tuple[str, db.Pool]] = []

    async def make(service: str) -> db.Pool:
        name = f"t_{service[:8]}_{uuid.uuid4().hex[:10]}"
        await migrations.apply(url, name, ROOT / "services" / service / "migrations")
        created = await db.create_pool(url, name, max_size=4)
        made.append((name, created))
        return created

    yield make
    for name, created in made:
        await created.close()
        conn = await db.connect(url, name)
        try:
            await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        finally:
            await conn.close()
