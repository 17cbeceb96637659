"""The batch forms of the rollout projections: one statement and one re-evaluation request per
batch, with the effect of applying the events one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import BaseModel

from services.rollout.agents import SUBSCRIPTIONS
from services.rollout.handlers import stages
from shared.consumer import Outcome, RawRecord, RecordProcessor, RetryPolicy
from shared.events import CloudEvent, new_event, to_record, topics
from shared.events.models import StaffUpserted, TrainingCompleted
from shared.kafka import Publisher
from tests.integration.rollout.conftest import World, plan, stage, started


def processor(world: World, topic: str) -> RecordProcessor:
    return RecordProcessor(
        consumer=f"rollout.{topic}",
        handlers=SUBSCRIPTIONS[topic],
        pool=world.pool,
        publisher=Publisher(world.settings, client_id="test-unused"),
        policy=RetryPolicy(),
        max_record_bytes=2**20,
    )


def batch(events: list[CloudEvent[BaseModel]], topic: str) -> list[RawRecord]:
    records = [to_record(e, topic=topic, key=e.subject) for e in events]
    return [RawRecord(r.topic, 0, n, r.key, r.value, r.headers) for n, r in enumerate(records)]


def completion(
    staff_id: str, course_id: str, at: datetime, result: str = "passed"
) -> CloudEvent[BaseModel]:
    data = TrainingCompleted(
        staff_id=staff_id,
        course_id=course_id,
        result=result,  # type: ignore[arg-type]
        completed_at=at,
    )
    return new_event("onramp.training.completed.v1", source="/lms", subject=staff_id, data=data)


def upserted(staff_id: str, department_id: str, at: datetime) -> CloudEvent[BaseModel]:
    data = StaffUpserted(staff_id=staff_id, name=staff_id, department_id=department_id)
    event = new_event("onramp.staff.upserted.v1", source="/hr", subject=staff_id, data=data)
    return event.model_copy(update={"time": at})


async def test_a_batch_of_completions_applies_as_one_by_one_and_asks_once(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 1)
    await world.people("ops", 3)
    body = plan(stage("fin"), stage("ops", required_course_ids=["crm"]))
    body["stages"][0]["gate"]["training"] = {"min_completion": 1}
    rid = await started(world, admin, body)
    now = datetime.now(UTC)
    events = [
        completion("ops-0", "crm", now),
        completion("ops-0", "crm", now - timedelta(days=1)),  # an earlier completion, sent later
        completion("ops-1", "crm", now, result="failed"),  # a failed attempt changes nothing
        completion("ops-2", "other", now),
        completion("ops-0", "crm", now + timedelta(days=1)),
    ]

    outcomes = await processor(world, topics.TRAINING).process_batch(batch(events, topics.TRAINING))

    assert outcomes == [Outcome.APPLIED] * 5
    rows = await world.pool.fetch(
        "SELECT staff_id, course_id, completed_at FROM completions ORDER BY 1, 2"
    )
    assert [tuple(r) for r in rows] == [
        ("ops-0", "crm", now - timedelta(days=1)),
        ("ops-2", "other", now),
    ]
    requests = await world.pool.fetchval(
        "SELECT count(*) FROM timers WHERE kind = $1 AND key LIKE $2", stages.EVALUATE, f"{rid}@%"
    )
    assert requests == 1  # one re-evaluation for the batch, not one per event
    assert await world.fire_timers() >= 1
    gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
    assert gate["criteria"][0]["value"] == pytest.approx(1 / 3)


async def test_a_batch_of_directory_upserts_keeps_the_newest_per_person(world: World) -> None:
    now = datetime.now(UTC)
    await world.apply(upserted("kept", "hr", now + timedelta(hours=1)))  # newer than the batch
    events = [
        upserted("moved", "ops", now),
        upserted("moved", "fin", now - timedelta(hours=1)),  # older, arrives later: ignored
        upserted("tied", "fin", now),
        upserted("tied", "ops", now),  # same time: the later one wins, as one by one
        upserted("kept", "fin", now),
    ]

    outcomes = await processor(world, topics.DIRECTORY).process_batch(
        batch(events, topics.DIRECTORY)
    )

    assert outcomes == [Outcome.APPLIED] * 5
    rows = await world.pool.fetch("SELECT staff_id, department_id FROM staff ORDER BY 1")
    assert [tuple(r) for r in rows] == [("kept", "hr"), ("moved", "ops"), ("tied", "ops")]
