"""The feedback API in process (HTTP role only) on a fresh schema of the real PostgreSQL."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.feedback import config, repository
from services.feedback.agents import SUBSCRIPTIONS
from services.feedback.config import Policy
from shared import db
from shared.auth import issue_dev_token
from shared.consumer import Outcome, RawRecord, RecordProcessor, RetryPolicy
from shared.events import CloudEvent, KafkaRecord, decode, new_event, to_record, topics
from shared.events.models import CohortSpec, FeedbackSubmitted, RolloutCreated, StagePlan
from shared.kafka import Publisher
from shared.service import create_app
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET, ServicePool

TEST_SECRET = b"feedback-test-respondent-secret"


def policy_with(**changes: Any) -> Policy:
    settings = config.FeedbackSettings(respondent_key_secret=SecretStr(TEST_SECRET.decode()))
    defaults = settings.policy()
    return dataclasses.replace(defaults, **changes)


@dataclass
class FeedbackApi:
    app: FastAPI
    schema: str
    policy: Policy  # what the routes get; a test may replace it

    @property
    def pool(self) -> db.Pool:
        """The app's own pool: arrange and observe through it."""
        pool: db.Pool = self.app.state.runtime.pool
        return pool

    def client(self, sub: str, *roles: str, token: str | None = None) -> httpx.AsyncClient:
        token = token or issue_dev_token(TEST_JWT_SECRET, sub, list(roles))
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://feedback",
            headers={"Authorization": f"Bearer {token}"},
        )

    def anonymous_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://feedback"
        )

    async def know_rollout(self, rollout_id: str | None = None, name: str = "CRM") -> str:
        rollout_id = rollout_id or f"r-{uuid.uuid4().hex[:8]}"
        async with db.transaction(self.pool) as conn:
            await repository.remember_rollout(conn, rollout_id, name, datetime.now(UTC))
        return rollout_id

    async def events(self, type_suffix: str = "") -> list[CloudEvent[Any]]:
        """What the service staged for onramp.feedback, in outbox order."""
        return [e for e in await staged_events(self.pool) if e.type.endswith(type_suffix)]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[FeedbackApi]:
    assert settings.database_url
    schema = f"t_fb_{uuid.uuid4().hex[:10]}"
    spec = dataclasses.replace(config.service_spec(), name=schema)
    app = create_app(spec, settings.model_copy(update={"role": "api"}))
    api = FeedbackApi(app, schema, policy=policy_with())
    app.dependency_overrides[config.current_policy] = lambda: api.policy
    try:
        async with app.router.lifespan_context(app):
            yield api
    finally:
        conn = await db.connect(settings.database_url, schema)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


# --- the consumers: the real wrapper and agents' handlers, records handed over directly ---------

SURVEY_TOOL = "/survey/acme"


def rollout_created(rollout_id: str, name: str = "New CRM") -> CloudEvent[Any]:
    """As the rollout service announces a rollout."""
    data = RolloutCreated(
        rollout_id=rollout_id,
        name=name,
        owner_id="owner-1",
        stages=[StagePlan(index=0, name="Pilot", cohort=CohortSpec(department_ids=["finance"]))],
        actor="owner-1",
        at=datetime.now(UTC),
    )
    return new_event(
        "onramp.rollout.created.v1",
        source="/onramp/rollout",
        subject=f"rollout/{rollout_id}",
        data=data,
    )


def tool_answer(
    rollout_id: str, *, source: str = SURVEY_TOOL, event_id: str | None = None, **fields: Any
) -> CloudEvent[Any]:
    """A survey tool's record for onramp.feedback.intake (an anonymous CSAT answer by default)."""
    data = {
        "feedback_id": f"ext-{uuid.uuid4().hex[:8]}",
        "rollout_id": rollout_id,
        "kind": "survey",
        "csat": 4,
        "anonymous": True,
        "submitted_at": datetime.now(UTC),
    } | fields
    return new_event(
        "onramp.feedback.submitted.v1",
        source=source,
        subject=f"rollout/{rollout_id}",
        data=FeedbackSubmitted.model_validate(data),
        id=event_id,
    )


@dataclass
class Consumers:
    """The feedback service's consumers on a fresh schema. Records are handed to the wrapper
    directly; dead letters of the intake go to the real broker, to ``intake_topic``.dlt."""

    pool: db.Pool
    intake_topic: str  # a fresh topic standing in for onramp.feedback.intake
    processors: dict[str, RecordProcessor]
    offsets: itertools.count[int]

    async def deliver(self, record: KafkaRecord) -> Outcome:
        topic = self.intake_topic if record.topic == topics.FEEDBACK_INTAKE else record.topic
        raw = RawRecord(
            topic=topic,
            partition=0,
            offset=next(self.offsets),
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        return await self.processors[record.topic].process(raw)

    async def deliver_event(self, event: CloudEvent[Any], topic: str, key: str) -> Outcome:
        return await self.deliver(to_record(event, topic=topic, key=key))

    async def events(self) -> list[CloudEvent[Any]]:
        return await staged_events(self.pool)


async def staged_events(pool: db.Pool) -> list[CloudEvent[Any]]:
    rows = await pool.fetch("SELECT value, headers FROM outbox ORDER BY id")
    return [
        decode(r["value"], [(k, v.encode()) for k, v in r["headers"]], max_bytes=1 << 20)
        for r in rows
    ]


@pytest.fixture
async def consumers(
    service_pool: ServicePool, settings: Settings, topic: str
) -> AsyncIterator[Consumers]:
    pool = await service_pool("feedback")
    publisher = Publisher(settings, client_id="test-feedback-consumers")
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)
    processors = {
        subscribed: RecordProcessor(
            consumer=f"feedback.{subscribed}",
            handlers=handlers,
            pool=pool,
            publisher=publisher,
            policy=retry,
            max_record_bytes=settings.max_record_bytes,
        )
        for subscribed, handlers in SUBSCRIPTIONS.items()
    }
    yield Consumers(pool, topic, processors, itertools.count())
    await publisher.stop()


class Queryable(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...


async def tables_mentioning(db: Queryable, schema: str, needle: str) -> list[str]:
    """Every table of ``schema`` with a row that contains ``needle`` in any column. Binary
    columns (the outbox's event values) are searched as decoded text, not as hex."""
    columns = await db.fetch(
        """SELECT c.table_name, c.column_name, c.data_type
           FROM information_schema.columns c JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
           WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position""",
        schema,
    )
    by_table: dict[str, list[str]] = {}
    for table, column, data_type in columns:
        text = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
        by_table.setdefault(table, []).append(text)
    assert {"feedback", "people", "outbox", "idempotency_keys", "rate_limits"} <= set(by_table)
    found = []
    for table, texts in by_table.items():
        hits = await db.fetchval(
            f"""SELECT count(*) FROM "{schema}"."{table}"
                WHERE concat_ws(' ', {", ".join(texts)}) LIKE $1""",
            f"%{needle}%",
        )
        if hits:
            found.append(table)
    return sorted(found)
