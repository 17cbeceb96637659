"""Helpers for the feedback service end to end: other systems' events in, topics read back."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from confluent_kafka import Producer

from services.feedback.config import FeedbackSettings
from services.feedback.domain import privacy
from shared.events import KafkaRecord, new_event, to_record, topics
from shared.events.models import StaffUpserted
from shared.settings import Settings
from tests.integration.feedback.conftest import rollout_created
from tests.support.kafka import read_topic
from tests.support.polling import eventually

# The stack runs with the development secret unless the environment sets one; so does this.
SECRET = FeedbackSettings().policy().secret


def produce(producer: Producer, record: KafkaRecord) -> None:
    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))


async def announce_rollout(
    producer: Producer, db: asyncpg.Connection[Any], rollout_id: str
) -> None:
    """Publish rollout.created as the rollout service would, and wait until feedback knows it."""
    produce(producer, to_record(rollout_created(rollout_id), topic=topics.ROLLOUT, key=rollout_id))
    producer.flush(10)

    async def known() -> bool:
        found = await db.fetchval(
            "SELECT 1 FROM feedback.rollouts WHERE rollout_id = $1", rollout_id
        )
        return bool(found == 1)

    await eventually(known, timeout=30)


async def hire(producer: Producer, db: asyncpg.Connection[Any], people: dict[str, str]) -> None:
    """Publish staff.upserted (staff id → department) as HR would; wait until feedback has them."""
    for staff_id, department_id in people.items():
        data = StaffUpserted(staff_id=staff_id, name="Person", department_id=department_id)
        event = new_event(
            "onramp.staff.upserted.v1",
            source="/hr/directory",
            subject=f"staff/{staff_id}",
            data=data,
        )
        produce(producer, to_record(event, topic=topics.DIRECTORY, key=staff_id))
    producer.flush(10)
    keys = [privacy.person_key(SECRET, staff_id) for staff_id in people]

    async def projected() -> bool:
        count = await db.fetchval(
            "SELECT count(*) FROM feedback.people WHERE person_key = ANY($1)", keys
        )
        return bool(count == len(keys))

    await eventually(projected, timeout=30)


async def published(
    settings: Settings, db: asyncpg.Connection[Any], rollout_id: str, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``rollout_id`` on onramp.feedback, once its ``count`` committed events
    left the outbox (the relay deletes what it published)."""
    assert settings.kafka_bootstrap

    async def sent() -> bool:
        waiting = await db.fetchval(
            "SELECT count(*) FROM feedback.outbox WHERE key = $1", rollout_id.encode()
        )
        return bool(waiting == 0)

    await eventually(sent, timeout=30)
    records = await read_topic(settings.kafka_bootstrap, topics.FEEDBACK, expect=count)
    return [r for r in records if r.key == rollout_id.encode()]
