"""The thin slice end to end: HR events in, a critical issue over HTTP, IT support notified."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
from confluent_kafka import Producer

from shared.events import new_event, to_record, topics
from shared.events.models import StaffUpserted
from tests.e2e.conftest import Stack
from tests.support.polling import eventually


def publish_staff(producer: Producer, staff_id: str, roles: list[str]) -> None:
    data = StaffUpserted(
        staff_id=staff_id, name=staff_id.title(), department_id="finance", roles=roles
    )
    event = new_event(
        "onramp.staff.upserted.v1", source="/hr/directory", subject=f"staff/{staff_id}", data=data
    )
    record = to_record(event, topic=topics.DIRECTORY, key=staff_id)
    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))


async def directory_applied(db: asyncpg.Connection[Any], staff_ids: list[str]) -> bool:
    """Rollout and notify project staff by id (feedback keeps pseudonyms only)."""
    counts = [
        await db.fetchval(
            f"SELECT count(*) FROM {schema}.staff WHERE staff_id = ANY($1)", staff_ids
        )
        for schema in ("rollout", "notify")
    ]
    return all(c == len(staff_ids) for c in counts)


async def start_rollout(stack: Stack, db: asyncpg.Connection[Any], rollout_id: str) -> None:
    """An admin creates and starts a rollout; feedback accepts answers once it has heard of it."""
    stage = {
        "name": "finance",
        "cohort": {"department_ids": ["finance"]},
        "gate": {"blockers": {"min_severity": "low"}},
    }
    plan = {"rollout_id": rollout_id, "name": "Slice", "stages": [stage]}
    async with stack.client("rollout", "dev-admin", "admin") as rollout:
        created = await rollout.post("/v1/rollouts", json=plan)
        assert created.status_code == 201, created.text
        started = await rollout.post(f"/v1/rollouts/{rollout_id}/start")
        assert started.status_code == 200, started.text

    async def feedback_knows_it() -> bool:
        found = await db.fetchval(
            "SELECT 1 FROM feedback.rollouts WHERE rollout_id = $1", rollout_id
        )
        return bool(found == 1)

    await eventually(feedback_knows_it, timeout=30)


async def inbox(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/me/notifications", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def alerts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The urgent-issue alerts in an inbox (the rollout's start also notifies its cohort)."""
    return [item for item in await inbox(client) if item["template"] == "issue.reported"]


def issue(rollout_id: str, severity: str = "critical") -> dict[str, Any]:
    return {
        "rollout_id": rollout_id,
        "kind": "issue",
        "severity": severity,
        "category": "login",
        "text": "Cannot sign in to the new system",
    }


async def setup_people(hr: Producer, db: Any, submitters: int = 1) -> tuple[list[str], list[str]]:
    run = uuid.uuid4().hex[:8]
    support = [f"it-{run}-a", f"it-{run}-b"]
    staff = [f"staff-{run}-{n}" for n in range(submitters)]
    for staff_id in support:
        publish_staff(hr, staff_id, ["it_support"])
    for staff_id in staff:
        publish_staff(hr, staff_id, ["staff"])
    hr.flush(10)
    await eventually(lambda: directory_applied(db, [*support, *staff]), timeout=30)
    return support, staff


async def test_critical_issue_reaches_every_it_support_inbox(
    stack: Stack, hr_system: Producer, db_reader: Any
) -> None:
    support, [submitter] = await setup_people(hr_system, db_reader)
    rollout_id = f"r-{uuid.uuid4().hex[:8]}"
    await start_rollout(stack, db_reader, rollout_id)
    async with stack.client("feedback", submitter, "staff") as feedback:
        low = await feedback.post("/v1/feedback", json=issue(rollout_id, "low"))
        critical = await feedback.post("/v1/feedback", json=issue(rollout_id))
    assert (low.status_code, critical.status_code) == (201, 201), critical.text
    feedback_id = critical.json()["feedback_id"]

    for staff_id in support:
        async with stack.client("notify", staff_id, "it_support") as notify:
            items = await eventually(lambda: alerts(notify), timeout=20)
        assert [i["data"]["feedback_id"] for i in items] == [feedback_id]
        assert items[0]["template"] == "issue.reported"

    async with stack.client("notify", submitter, "staff") as notify:
        assert await alerts(notify) == []  # a person sees only their own inbox

    async with stack.client("rollout", "dev-admin", "admin") as rollout:

        async def both_counted() -> bool:
            response = await rollout.get(f"/v1/rollouts/{rollout_id}/gate")
            blockers = next(c for c in response.json()["criteria"] if c["name"] == "blockers")
            return bool(blockers["value"] == 2)  # the low and the critical issue, both open

        await eventually(both_counted, timeout=20)


async def test_feedback_needs_a_staff_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url("feedback")) as anonymous:
        response = await anonymous.post("/v1/feedback", json=issue("r-1"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    async with stack.client("feedback", "someone", "approver") as approver:
        assert (await approver.post("/v1/feedback", json=issue("r-1"))).status_code == 403


async def test_notify_killed_with_sigkill_while_events_flow_loses_and_doubles_nothing(
    stack: Stack, hr_system: Producer, db_reader: Any
) -> None:
    support, submitters = await setup_people(hr_system, db_reader, submitters=4)
    rollout_id = f"r-{uuid.uuid4().hex[:8]}"
    await start_rollout(stack, db_reader, rollout_id)
    posted: list[str] = []
    notify = stack.services["notify"]
    clients = [stack.client("feedback", who, "staff") for who in submitters]
    for n in range(40):
        if n == 10:
            notify.kill()  # SIGKILL mid-stream: no drain, no offset commit
        response = await clients[n % 4].post("/v1/feedback", json=issue(rollout_id))
        assert response.status_code == 201, response.text
        posted.append(response.json()["feedback_id"])
    for client in clients:
        await client.aclose()
    notify.start()
    await notify.wait_ready()

    for staff_id in support:
        async with stack.client("notify", staff_id, "it_support") as client:

            async def all_arrived() -> list[dict[str, Any]]:
                items = await alerts(client)
                return items if len(items) >= len(posted) else []

            items = await eventually(all_arrived, timeout=60)
        received = [i["data"]["feedback_id"] for i in items]
        assert sorted(received) == sorted(posted)  # nothing lost, nothing doubled


async def test_health_and_metrics_are_served(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url("notify")) as client:
        live = await client.get("/health/live")
        # Another test may have just restarted notify: it is ready once it has rejoined its group.
        ready = await eventually(lambda: _ready(client), timeout=60)
        assert ready is not None
        metrics = await client.get("/metrics")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "consumers": "ok",
        "kafka": "ok",
    }
    assert metrics.status_code == 200
    assert "# TYPE onramp_consumer_records_total counter" in metrics.text
    assert 'onramp_http_request_seconds_count{method="GET",route="/health/live"' in metrics.text


async def _ready(client: httpx.AsyncClient) -> httpx.Response | None:
    response = await client.get("/health/ready")
    return response if response.status_code == 200 else None
