"""Kafka client settings and the producer every process publishes with."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.events import KafkaRecord
from shared.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and admin clients (TLS, SASL/SCRAM)."""
    if not settings.kafka_bootstrap:
        raise ValueError("ONRAMP_KAFKA_BOOTSTRAP is not set")
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


class Publisher:
    """Sends already-encoded records and waits until the broker has them all."""

    def __init__(self, settings: Settings, *, client_id: str) -> None:
        self._options = {
            **client_options(settings),
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": settings.kafka_idempotence,
            "linger_ms": 1,
            "request_timeout_ms": 10_000,
        }
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()  # the relay and dead-lettering share one producer

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> AIOKafkaProducer:
        """Connect (once); a failed start leaves nothing behind, so the caller can retry."""
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._options)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send_all(self, records: Sequence[KafkaRecord]) -> None:
        """Queue every record before awaiting any, so one batch costs about one round trip.

        The producer keeps the order of records within a partition.
        """
        producer = self._producer or await self.start()
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        for future in futures:
            await future
