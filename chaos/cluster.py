"""The system under test: a dedicated broker, PostgreSQL, SMTP sink and the three services."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Literal

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller

from onramp.backends import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
    free_port,
    start_broker,
    start_postgres,
)
from onramp.processes import ServiceProcess, service_env, stop_all
from shared.auth import issue_dev_token
from shared.events.topics import ALL_TOPICS

Runtime = Literal["aiokafka", "faust"]

SERVICES = ("feedback", "rollout", "notify")
JWT_SECRET = "onramp-chaos-secret-of-at-least-32-bytes"
MAX_RECORD_BYTES = 16 * 1024
SESSION_TIMEOUT_S = 6.0


@dataclass
class Mailbox:
    """What the company mail server received (aiosmtpd handler)."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def count_to(self, address: str) -> int:
        return sum(1 for m in self.messages if address in (m.get("To") or ""))


class Cluster:
    """Every process of one chaos run, on loopback, in ``folder`` (logs, PostgreSQL data)."""

    def __init__(self, folder: Path, *, runtime: Runtime = "aiokafka") -> None:
        self.folder = folder
        self.runtime = runtime
        self.mailbox = Mailbox()
        self.smtp_port = free_port()
        self._smtp = Controller(self.mailbox, hostname="127.0.0.1", port=self.smtp_port)
        self.broker: EmbeddedBroker | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.extra: list[ServiceProcess] = []
        self.partitions = 0

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None
        return self.broker.bootstrap

    @property
    def database_url(self) -> str:
        assert self.postgres is not None
        return self.postgres.url

    def env(self) -> dict[str, str]:
        return {
            **service_env(self.bootstrap, self.database_url, JWT_SECRET),
            "ONRAMP_KAFKA_FETCH_MAX_WAIT_MS": "10",
            "ONRAMP_KAFKA_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
            "ONRAMP_KAFKA_HEARTBEAT_INTERVAL_S": "1",
            "ONRAMP_OUTBOX_POLL_INTERVAL_S": "0.5",
            "ONRAMP_SCHEDULER_POLL_INTERVAL_S": "0.5",
            "ONRAMP_CONSUMER_BACKOFF_INITIAL_S": "0.02",
            "ONRAMP_CONSUMER_BACKOFF_MAX_S": "1",
            "ONRAMP_MAX_RECORD_BYTES": str(MAX_RECORD_BYTES),
            "ONRAMP_FEEDBACK_RATE_LIMIT": "1000000",
            "ONRAMP_LOG_LEVEL": "INFO",
            "ONRAMP_SMTP_HOST": "127.0.0.1",
            "ONRAMP_SMTP_PORT": str(self.smtp_port),
            # The default runs every topic on plain aiokafka; "faust" runs them all as agents.
            "ONRAMP_KAFKA_FAUST_TOPICS": ",".join(ALL_TOPICS) if self.runtime == "faust" else "",
        }

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._smtp.start()
        self.broker = await asyncio.to_thread(
            start_broker, free_port(), log_path=self.folder / "broker.log"
        )
        self.postgres = await asyncio.to_thread(start_postgres, self.folder / "pgdata")
        self.partitions = await auto_created_partitions(self.bootstrap)
        await create_topics(self.bootstrap, partitions=self.partitions)
        env = self.env()
        for name in SERVICES:  # each applies its migrations on start
            self.services[name] = ServiceProcess(
                name, free_port(), env, log_path=self.folder / f"{name}.log"
            ).start()
        await self.wait_ready()

    async def wait_ready(self, timeout: float = 120.0) -> None:
        await asyncio.gather(*(s.wait_ready(timeout) for s in self.services.values()))

    def second_instance(self, name: str) -> ServiceProcess:
        """Another instance of ``name``, joining the same consumer group."""
        process = ServiceProcess(
            name, free_port(), self.env(), log_path=self.folder / f"{name}-2.log"
        ).start()
        self.extra.append(process)
        return process

    async def restart_broker(self) -> None:
        """Start the (stopped) broker again with its topics, as a broker with durable storage
        would come back.

        The memory broker comes back empty, and it acknowledges writes to a topic it does not
        have and keeps nothing (acks=all included). So the services are frozen (SIGSTOP) for
        the moment it takes to start it and recreate the topics: otherwise a relay that
        reconnects first would have its records acknowledged and dropped.
        """
        assert self.broker is not None
        processes = [p for p in [*self.services.values(), *self.extra] if p.is_running()]
        for process in processes:
            process.signal(signal.SIGSTOP)
        try:
            await asyncio.to_thread(self.broker.start)
            await create_topics(self.bootstrap, partitions=self.partitions)
        finally:
            for process in processes:
                process.signal(signal.SIGCONT)

    def signal_broker(self, sig: signal.Signals) -> None:
        assert self.broker is not None
        os.killpg(self.broker.pid, sig)

    def token(self, sub: str, *roles: str) -> str:
        return issue_dev_token(JWT_SECRET, sub, list(roles))

    def client(
        self, service: str, sub: str, *roles: str, timeout: float = 5.0
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.services[service].base_url,
            headers={"Authorization": f"Bearer {self.token(sub, *roles)}"},
            timeout=timeout,
        )

    async def ready(self, process: ServiceProcess) -> tuple[int, str]:
        """``/health/ready``: status code and body (0 when nothing answers)."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(f"{process.base_url}/health/ready")
            return response.status_code, response.text
        except httpx.HTTPError as exc:
            return 0, type(exc).__name__

    async def all_ready(self) -> bool:
        answers = await asyncio.gather(*(self.ready(s) for s in self.services.values()))
        return all(code == 200 for code, _ in answers)

    async def group_positions(self, groups: list[str], topics: list[str]) -> list[str]:
        """For a failed trial's notes: each group's committed offset against the end offset."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await consumer.start()
        try:
            parts = [TopicPartition(t, p) for t in topics for p in range(self.partitions)]
            ends = await consumer.end_offsets(parts)
            lines = []
            for group in groups:
                committed = await admin.list_consumer_group_offsets(group, partitions=parts)
                lines += [
                    f"{group} {tp.topic}:{tp.partition} committed {meta.offset} end {ends[tp]}"
                    for tp, meta in sorted(committed.items())
                ]
            return lines
        finally:
            await consumer.stop()
            await admin.close()

    def stop(self) -> None:
        stop_all([*self.extra, *self.services.values()])
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self._smtp.stop()


async def auto_created_partitions(bootstrap: str) -> int:
    """How many partitions the broker gives a topic a producer creates by writing to it.

    A restarted memory broker has no topics, and the services' producers reach it before any
    admin call can recreate them: whichever comes first creates each topic. Using the broker's
    own count for every topic makes the outcome the same either way (a different count would
    move keys to other partitions).
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait("chaos.probe", b"{}")
        return len(await producer.partitions_for("chaos.probe"))
    finally:
        await producer.stop()


async def until(check: Any, timeout: float, what: str, interval: float = 0.05) -> float:
    """Await ``check()`` until truthy and return when (monotonic); ``TimeoutError`` after."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        await asyncio.sleep(interval)
