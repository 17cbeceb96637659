"""The three services as real processes, on the session's broker and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from onramp.backends import free_port
from onramp.devstack import ServiceProcess, migrate, service_env, stop_all
from shared.auth import issue_dev_token
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.support.smtp import SmtpSink

SERVICES = ("feedback", "rollout", "notify")


@dataclass
class Stack:
    services: dict[str, ServiceProcess]
    settings: Settings

    def url(self, service: str) -> str:
        return self.services[service].base_url

    def client(self, service: str, sub: str, *roles: str) -> httpx.AsyncClient:
        token = issue_dev_token(TEST_JWT_SECRET, sub, list(roles))
        return httpx.AsyncClient(
            base_url=self.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    """The company mail server, as the services see it (ONRAMP_SMTP_HOST / ONRAMP_SMTP_PORT)."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def stack(
    settings: Settings, smtp_server: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    assert settings.kafka_bootstrap
    assert settings.database_url
    logs: Path = tmp_path_factory.mktemp("service-logs")
    env = {
        **service_env(settings.kafka_bootstrap, settings.database_url, TEST_JWT_SECRET),
        "ONRAMP_KAFKA_FETCH_MAX_WAIT_MS": "10",
        "ONRAMP_OUTBOX_POLL_INTERVAL_S": "0.5",
        "ONRAMP_LOG_LEVEL": "INFO",
        "ONRAMP_SMTP_HOST": smtp_server.host,
        "ONRAMP_SMTP_PORT": str(smtp_server.port),
    }
    processes = {
        name: ServiceProcess(name, free_port(), env, log_path=logs / f"{name}.log")
        for name in SERVICES
    }

    async def start() -> None:
        for name in SERVICES:
            await migrate(name, env)
        for process in processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in processes.values()))

    try:
        asyncio.run(start())
        yield Stack(processes, settings)
    finally:
        stop_all(processes.values())


@pytest.fixture
def hr_system(settings: Settings) -> Iterator[Producer]:
    """The HR directory as an outside system would publish: librdkafka via confluent-kafka."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 1})
    yield producer
    producer.flush(10)


@pytest.fixture
async def db_reader(settings: Settings) -> AsyncIterator[object]:
    """Reads services' tables to observe effects (never to change them)."""
    import asyncpg

    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()
