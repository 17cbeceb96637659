"""``python -m onramp.setup``, the deployment's one-shot step, on the session's broker and
database: topics created once (existing ones left alone), every service migrated."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from onramp.backends import free_port
from onramp.setup import TOPICS, SetupError, ensure_topics, wait_for_kafka
from shared.events import topics
from shared.settings import Settings


async def partitions(settings: Settings, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


async def test_topics_are_created_once(settings: Settings) -> None:
    names = [f"setup.{uuid.uuid4().hex[:8]}", f"setup.{uuid.uuid4().hex[:8]}.dlt"]
    assert await ensure_topics(settings, names, partitions=3) == sorted(names)
    assert await ensure_topics(settings, names, partitions=5) == []  # left as they are
    assert await partitions(settings, names) == dict.fromkeys(names, 3)


def test_every_topic_has_its_dead_letter_topic() -> None:
    assert set(TOPICS) == {*topics.ALL_TOPICS, *topics.DLT_TOPICS}


async def test_an_unreachable_broker_is_reported_after_the_wait() -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    with pytest.raises(SetupError, match="not reachable within 1 s"):
        await wait_for_kafka(settings, timeout=1.0)


async def test_setup_creates_topics_and_migrates_every_service(settings: Settings) -> None:
    assert settings.kafka_bootstrap
    assert settings.database_url
    env = {
        **os.environ,
        "ONRAMP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ONRAMP_DATABASE_URL": settings.database_url,
        "ONRAMP_TOPIC_PARTITIONS": "2",
    }
    # Topics exist already (the session made them): setup leaves them and goes on.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "onramp.setup",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, output.decode()
    assert b'"setup.done"' in output
    assert set(await partitions(settings, list(TOPICS))) == set(TOPICS)
    conn = await asyncpg.connect(settings.database_url)
    try:
        for service in ("feedback", "rollout", "notify"):
            applied = await conn.fetch(f"SELECT id FROM {service}.schema_migrations")
            ids = {row["id"] for row in applied}
            assert "plumbing/0001_plumbing.sql" in ids, service
            assert any(i.startswith("service/") for i in ids), service
    finally:
        await conn.close()
