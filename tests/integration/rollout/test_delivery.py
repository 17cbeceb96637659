"""Delivery on the real database and broker: timers and commands never deadlock or wait on each
other, redelivered events apply once, the relay publishes in commit order."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from services.rollout.agents import SUBSCRIPTIONS
from services.rollout.handlers import stages
from shared import db
from shared.consumer import RawRecord, RecordProcessor, RetryPolicy
from shared.events import new_event, to_record, topics
from shared.events.models import TrainingCompleted
from shared.kafka import Publisher
from shared.outbox import OutboxRelay
from tests.integration.rollout.conftest import World, plan, stage, started
from tests.support.kafka import read_topic


async def test_a_timer_steps_aside_while_a_command_holds_the_rollout(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 1)
    await world.people("ops", 1)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    async with world.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM rollouts WHERE rollout_id = $1 FOR UPDATE", rid)
        async with db.transaction(world.pool) as other:
            await stages.arm(other, rid)
        started_at = time.monotonic()
        await world.fire_timers()
        assert time.monotonic() - started_at < 2  # did not wait for the lock
        waiting = await world.pool.fetchval(
            "SELECT count(*) FROM timers WHERE kind = $1 AND key LIKE $2 AND due_at > now()",
            stages.EVALUATE,
            f"{rid}@%",
        )
        assert waiting == 1  # moved a little later instead


async def test_requests_for_an_evaluation_never_wait_for_one_in_progress(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 1)
    await world.people("ops", 1)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    async with db.transaction(world.pool) as conn:
        await stages.arm(conn, rid)
    async with world.pool.acquire() as firing, firing.transaction():
        # What the scheduler does when it fires a request: delete and hold the row.
        await firing.execute("DELETE FROM timers WHERE kind = $1", stages.EVALUATE)
        for _ in range(3):  # events arriving meanwhile: none waits, one new request
            async with db.transaction(world.pool) as conn:
                await asyncio.wait_for(stages.arm(conn, rid), timeout=2)
        requests = await world.pool.fetchval(
            "SELECT count(*) FROM timers WHERE kind = $1", stages.EVALUATE
        )
        assert requests == 2  # the one being fired (its delete not committed) and one new


async def test_redelivered_events_are_applied_once(world: World, admin: httpx.AsyncClient) -> None:
    await world.people("fin", 1)
    await world.people("ops", 2)
    body = plan(stage("fin"), stage("ops", required_course_ids=["crm"]))
    body["stages"][0]["gate"]["training"] = {"min_completion": 1}
    rid = await started(world, admin, body)
    processor = RecordProcessor(
        consumer="rollout.onramp.training",
        handlers=SUBSCRIPTIONS[topics.TRAINING],
        pool=world.pool,
        publisher=Publisher(world.settings, client_id="test-unused"),
        policy=RetryPolicy(),
        max_record_bytes=2**20,
    )
    data = TrainingCompleted(
        staff_id="ops-0", course_id="crm", result="passed", completed_at=datetime.now(UTC)
    )
    event = new_event(
        "onramp.training.completed.v1", source="/lms", subject="staff/ops-0", data=data
    )
    record = to_record(event, topic=topics.TRAINING, key="ops-0")
    raw = RawRecord(record.topic, 0, 1, record.key, record.value, record.headers)
    outcomes = [(await processor.process(raw)).value for _ in range(3)]
    assert outcomes == ["applied", "duplicate", "duplicate"]
    assert await world.pool.fetchval("SELECT count(*) FROM completions") == 1
    gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
    assert gate["criteria"][0]["value"] == 0.5


async def test_the_relay_publishes_rollout_events_keyed_by_rollout_in_commit_order(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 1)
    await world.people("ops", 1)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    staged = await world.types(rid)
    publisher = Publisher(world.settings, client_id="test-rollout-relay")
    relay = OutboxRelay(
        world.pool,
        publisher,
        url=world.settings.database_url or "",
        schema=world.schema,
        batch_size=100,
        poll_interval_s=60,
    )
    try:
        assert await relay.relay_once() == len(staged)
    finally:
        await relay.close()
        await publisher.stop()
    assert world.settings.kafka_bootstrap
    records = await read_topic(world.settings.kafka_bootstrap, topics.ROLLOUT, expect=len(staged))
    ours = [r for r in records if r.key == rid.encode()]
    types = [dict(r.headers)["ce_type"].decode() for r in ours]
    assert [t.removeprefix("onramp.rollout.").removesuffix(".v1") for t in types] == staged
    assert {dict(r.headers)["ce_source"] for r in ours} == {b"/onramp/rollout"}
