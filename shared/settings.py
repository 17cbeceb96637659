"""Settings of every Onramp process, read from ``ONRAMP_*`` environment variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Role = Literal["all", "api", "worker"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONRAMP_", extra="ignore")

    # Backends. Unset means "start the embedded one" for the local runner and the tests.
    kafka_bootstrap: str | None = None
    database_url: str | None = None
    # Connections per process. A request holds one for its two or three statements and the
    # event-loop turns between them; with fewer than the concurrent requests, the rest queue
    # for one (docs/performance.md). Mind PostgreSQL's max_connections (100 by default).
    database_pool_size: int = Field(default=20, ge=1)
    data_dir: Path = Path(".onramp")
    # Where the local runner's embedded broker listens (127.0.0.1) when kafka_bootstrap is unset.
    embedded_kafka_port: int = 9092

    # Kafka client. Idempotence needs InitProducerId, which the embedded broker refuses.
    kafka_idempotence: bool = False
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=5000)
    kafka_session_timeout_s: float = Field(default=10.0, gt=0)
    kafka_rebalance_timeout_s: float = Field(default=4.0, gt=0)
    kafka_heartbeat_interval_s: float = Field(default=1.0, gt=0)
    topic_partitions: int = Field(default=6, ge=1)

    # HTTP.
    host: str = "127.0.0.1"
    feedback_port: int = 8001
    rollout_port: int = 8002
    notify_port: int = 8003
    max_body_bytes: int = 64 * 1024
    shutdown_grace_s: float = Field(default=8.0, gt=0)

    # Process roles: "all" runs the API, the consumers, the outbox relay and the scheduler.
    role: Role = "all"
    migrate_on_start: bool = True

    # Security.
    jwt_secret: SecretStr | None = None
    jwt_algorithms: list[str] = ["HS256"]
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    respondent_key_secret: SecretStr = SecretStr("onramp-dev-respondent-key")

    # Plumbing timings.
    outbox_batch_size: int = Field(default=200, ge=1)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    scheduler_poll_interval_s: float = Field(default=1.0, gt=0)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_initial_s: float = Field(default=0.05, gt=0)
    consumer_backoff_max_s: float = Field(default=5.0, gt=0)
    max_record_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Consumers apply records in batches of up to consumer_batch_size, gathered for at most
    # consumer_batch_wait_ms. Consumers run on plain aiokafka with manual commits, except the
    # topics in kafka_faust_topics (a JSON list or comma-separated), which run as faust agents;
    # docs/runtimes.md says why.
    consumer_batch_size: int = Field(default=2000, ge=1, le=10_000)
    consumer_batch_wait_ms: int = Field(default=10, ge=1, le=5000)
    kafka_faust_topics: Annotated[list[str], NoDecode] = []

    @field_validator("kafka_faust_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    log_level: str = "INFO"
    log_json: bool = True
