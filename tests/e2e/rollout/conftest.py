"""Helpers for the rollout service end to end: other systems' events in, users over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from confluent_kafka import Producer

from shared.events import KafkaRecord, new_event, to_record, topics
from shared.events.models import DepartmentUpserted, StaffUpserted, TrainingCompleted
from tests.e2e.conftest import Stack
from tests.support.polling import eventually


def produce(producer: Producer, record: KafkaRecord) -> None:
    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))


def run_id() -> str:
    return uuid.uuid4().hex[:6]


async def hire(
    producer: Producer,
    db: asyncpg.Connection[Any],
    people: dict[str, str],
    departments: dict[str, str] | None = None,
) -> None:
    """HR publishes departments and staff (id → department); wait until rollout has them all
    (they travel on different partitions, so in no particular order)."""
    for department_id, name in (departments or {}).items():
        data = DepartmentUpserted(department_id=department_id, name=name)
        event = new_event(
            "onramp.department.upserted.v1",
            source="/hr/directory",
            subject=f"department/{department_id}",
            data=data,
        )
        produce(producer, to_record(event, topic=topics.DIRECTORY, key=department_id))
    for staff_id, department_id in people.items():
        person = StaffUpserted(
            staff_id=staff_id, name=staff_id.title(), department_id=department_id, roles=["staff"]
        )
        event = new_event(
            "onramp.staff.upserted.v1",
            source="/hr/directory",
            subject=f"staff/{staff_id}",
            data=person,
        )
        produce(producer, to_record(event, topic=topics.DIRECTORY, key=staff_id))
    producer.flush(10)

    async def projected() -> bool:
        staff = await db.fetchval(
            "SELECT count(*) FROM rollout.staff WHERE staff_id = ANY($1)", list(people)
        )
        named = await db.fetchval(
            "SELECT count(*) FROM rollout.departments WHERE department_id = ANY($1)",
            list(departments or {}),
        )
        return bool(staff == len(people) and named == len(departments or {}))

    await eventually(projected, timeout=30)


def train(producer: Producer, staff_ids: list[str], course_id: str) -> None:
    """The learning system reports completions."""
    for staff_id in staff_ids:
        data = TrainingCompleted(
            staff_id=staff_id, course_id=course_id, result="passed", completed_at=datetime.now(UTC)
        )
        event = new_event(
            "onramp.training.completed.v1", source="/lms", subject=f"staff/{staff_id}", data=data
        )
        produce(producer, to_record(event, topic=topics.TRAINING, key=staff_id))
    producer.flush(10)


async def give_feedback(stack: Stack, staff_id: str, body: dict[str, Any]) -> str:
    """A staff member submits feedback in the feedback service; retried while that service
    does not know the rollout yet (it learns of it from rollout.created)."""
    async with stack.client("feedback", staff_id, "staff") as client:

        async def accepted() -> httpx.Response | None:
            response = await client.post("/v1/feedback", json=body)
            if response.status_code == 201:
                return response
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["type"] == "unknown_rollout", response.text
            return None

        response = await eventually(accepted, timeout=30, interval=0.1)
    assert response is not None
    return str(response.json()["feedback_id"])


async def rollout_state(client: httpx.AsyncClient, rollout_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/rollouts/{rollout_id}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def wait_for(
    client: httpx.AsyncClient,
    rollout_id: str,
    *,
    status: str,
    stage: int | None,
    timeout: float = 30,
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        state = await rollout_state(client, rollout_id)
        return state if (state["status"], state["stage"]) == (status, stage) else None

    found = await eventually(reached, timeout=timeout, interval=0.05)
    assert found is not None
    return found
