"""The notify service end to end, through the real processes: HR publishes people, an admin
starts a rollout in the rollout service, staff report through the feedback service, IT support
acknowledges and resolves there; notify pages, escalates, stops and mails (to a real local
SMTP server). Escalation policies are shortened to seconds over the notify API, aimed at this
test's own people, and put back afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from confluent_kafka import Producer

from shared.events import new_event, to_record, topics
from shared.events.models import StaffUpserted
from tests.e2e.conftest import Stack
from tests.support.polling import eventually
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    Db = asyncpg.Connection[Any]


def hire(producer: Producer, people: dict[str, dict[str, Any]]) -> None:
    for staff_id, fields in people.items():
        data = StaffUpserted(staff_id=staff_id, name=staff_id.title(), **fields)
        event = new_event(
            "onramp.staff.upserted.v1",
            source="/hr/directory",
            subject=f"staff/{staff_id}",
            data=data,
        )
        record = to_record(event, topic=topics.DIRECTORY, key=staff_id)
        producer.produce(record.topic, record.value, record.key, headers=list(record.headers))
    producer.flush(10)


async def known(db: Db, schema: str, staff_ids: list[str]) -> bool:
    count = await db.fetchval(
        f"SELECT count(*) FROM {schema}.staff WHERE staff_id = ANY($1)", staff_ids
    )
    return bool(count == len(staff_ids))


async def start_rollout(stack: Stack, run: str, cohort: list[str]) -> str:
    """An admin creates and starts a one-stage rollout in the rollout service."""
    rollout_id = f"notify-{run}"
    body = {
        "rollout_id": rollout_id,
        "name": f"Notify {run}",
        "system": "CRM",
        "stages": [
            {
                "name": "pilot",
                "cohort": {"staff_ids": cohort},
                "gate": {"satisfaction": None, "training": None, "blockers": None},
            }
        ],
    }
    async with stack.client("rollout", f"owner-{run}", "admin") as admin:
        created = await admin.post("/v1/rollouts", json=body)
        assert created.status_code == 201, created.text
        started = await admin.post(f"/v1/rollouts/{rollout_id}/start")
        assert started.status_code == 200, started.text
    return rollout_id


async def report_critical_issue(stack: Stack, staff_id: str, rollout_id: str) -> str:
    body = {
        "rollout_id": rollout_id,
        "kind": "issue",
        "severity": "critical",
        "category": "login",
        "text": "Cannot sign in to the new system",
    }
    async with stack.client("feedback", staff_id, "staff") as client:

        async def accepted() -> httpx.Response | None:  # feedback learns rollouts from events
            response = await client.post("/v1/feedback", json=body)
            return response if response.status_code == 201 else None

        response = await eventually(accepted, timeout=30, interval=0.1)
    assert response is not None
    return str(response.json()["feedback_id"])


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The notify API as an admin; the urgent-issue policy is put back as it was afterwards."""
    async with stack.client("notify", "e2e-admin", "admin") as client:
        before = (await client.get("/v1/escalation-policies/urgent-issue")).json()
        yield client
        restore = {k: before[k] for k in ("description", "levels", "repeat")}
        response = await client.put("/v1/escalation-policies/urgent-issue", json=restore)
        assert response.status_code == 200, response.text


async def set_policy(admin: httpx.AsyncClient, *levels: tuple[float, str, str]) -> None:
    body = {
        "description": "end-to-end test",
        "levels": [{"delay": d, "condition": c, "targets": [t]} for d, c, t in levels],
    }
    response = await admin.put("/v1/escalation-policies/urgent-issue", json=body)
    assert response.status_code == 200, response.text


async def the_case(support: httpx.AsyncClient, feedback_id: str) -> dict[str, Any] | None:
    listed = await support.get("/v1/escalations", params={"kind": "issue", "limit": 200})
    for case in listed.json()["items"]:
        if case["feedback_id"] == feedback_id:
            detail: dict[str, Any] = (
                await support.get(f"/v1/escalations/{case['case_id']}")
            ).json()
            return detail
    return None


def paged_levels(case: dict[str, Any]) -> list[int]:
    return [entry["level"] for entry in case["log"] if entry["action"] == "paged"]


def lateness(case: dict[str, Any]) -> list[timedelta]:
    return [
        datetime.fromisoformat(e["at"]) - datetime.fromisoformat(e["due_at"])
        for e in case["log"]
        if e["action"] == "paged"
    ]


async def inbox(stack: Stack, staff_id: str) -> list[dict[str, Any]]:
    async with stack.client("notify", staff_id, "staff") as client:
        items: list[dict[str, Any]] = (
            await client.get("/v1/me/notifications", params={"limit": 200})
        ).json()["items"]
    return items


async def test_a_critical_issue_climbs_stops_when_acknowledged_and_closes_when_resolved(
    stack: Stack,
    hr_system: Producer,
    db_reader: Db,
    smtp_server: SmtpSink,
    admin: httpx.AsyncClient,
) -> None:
    run = uuid.uuid4().hex[:8]
    submitter, support, lead, head = (f"{who}-{run}" for who in ("sub", "it", "lead", "head"))
    hire(
        hr_system,
        {
            submitter: {"email": f"{submitter}@example.com", "locale": "zh-CN"},
            support: {"roles": ["it_support"]},
            lead: {"email": f"{lead}@example.com"},
            head: {"email": f"{head}@example.com"},
        },
    )
    await eventually(
        lambda: known(db_reader, "notify", [submitter, support, lead, head]), timeout=30
    )
    await set_policy(
        admin,
        (0, "always", f"staff:{support}"),
        (2, "if_not_acked", f"staff:{lead}"),
        (4, "if_not_acked", f"staff:{head}"),
        (8, "if_not_acked", f"staff:{lead}"),  # never: acknowledged before it comes due
    )
    rollout_id = await start_rollout(stack, run, [submitter])

    # The rollout started for the submitter: they hear it in their language, in-app and by mail.
    joined = await eventually(lambda: inbox(stack, submitter), timeout=30)
    assert [n["template"] for n in joined] == ["stage.joined"]
    assert joined[0]["locale"] == "zh-CN"
    mails = await eventually(lambda: _mail(smtp_server, f"{submitter}@example.com"), timeout=20)
    assert "推广计划" in mails[0].get_payload(decode=True).decode()

    feedback_id = await report_critical_issue(stack, submitter, rollout_id)
    async with stack.client("notify", support, "it_support") as notify_support:

        async def climbed_two_levels() -> dict[str, Any]:
            case = await the_case(notify_support, feedback_id)
            return case if case and len(paged_levels(case)) >= 3 else {}

        case = await eventually(climbed_two_levels, timeout=30)
        assert paged_levels(case) == [0, 1, 2]
        assert max(lateness(case)) < timedelta(seconds=2), lateness(case)
        await eventually(lambda: _mail(smtp_server, f"{head}@example.com"), timeout=20)

        async with stack.client("feedback", support, "it_support") as feedback:
            acked = await feedback.post(f"/v1/feedback/{feedback_id}/acknowledge")
            assert acked.status_code == 200, acked.text

            async def acknowledged() -> dict[str, Any]:
                found = await the_case(notify_support, feedback_id)
                return found if found and found["status"] == "acknowledged" else {}

            case = await eventually(acknowledged, timeout=20)
            assert case["acknowledged_by"] == support
            assert case["next_level"] is None  # the last level waits for no acknowledged case
            assert paged_levels(case) == [0, 1, 2]

            resolution = {"resolution": "Single sign-on token reset for everyone."}
            resolved = await feedback.post(f"/v1/feedback/{feedback_id}/resolve", json=resolution)
            assert resolved.status_code == 200, resolved.text

        async def closed() -> dict[str, Any]:
            found = await the_case(notify_support, feedback_id)
            return found if found and found["status"] == "closed" else {}

        case = await eventually(closed, timeout=20)
        assert case["closed_by"] == support

    # "You said, we did" reaches the submitter.
    async def told() -> list[dict[str, Any]]:
        return [n for n in await inbox(stack, submitter) if n["template"] == "feedback.resolved"]

    (note,) = await eventually(told, timeout=20)
    assert "Single sign-on token reset" in note["body"]


async def _mail(sink: SmtpSink, address: str) -> list[Any]:
    return sink.inbox.to(address)


async def test_sigkill_between_levels_neither_skips_nor_repeats_a_level(
    stack: Stack, hr_system: Producer, db_reader: Db, admin: httpx.AsyncClient
) -> None:
    run = uuid.uuid4().hex[:8]
    submitter, first, second, third = (f"{who}-{run}" for who in ("sub", "l0", "l1", "l2"))
    hire(hr_system, {person: {} for person in (submitter, first, second, third)})
    await eventually(
        lambda: known(db_reader, "notify", [submitter, first, second, third]), timeout=30
    )
    await set_policy(
        admin,
        (0, "always", f"staff:{first}"),
        (2, "if_not_acked", f"staff:{second}"),
        (5, "if_not_acked", f"staff:{third}"),
    )
    rollout_id = await start_rollout(stack, run, [submitter])
    feedback_id = await report_critical_issue(stack, submitter, rollout_id)

    async def paged_to(person: str) -> list[dict[str, Any]]:
        return [n for n in await inbox(stack, person) if n["template"] == "issue.reported"]

    await eventually(lambda: paged_to(second), timeout=30)
    notify = stack.services["notify"]
    notify.kill()  # SIGKILL between level 1 and level 2
    notify.start()
    await notify.wait_ready()
    await eventually(lambda: paged_to(third), timeout=30)

    async with stack.client("notify", first, "it_support") as support:
        case = await the_case(support, feedback_id)
    assert case is not None
    assert paged_levels(case) == [0, 1, 2]
    assert case["next_level"] is None
    for person in (first, second, third):
        assert len(await paged_to(person)) == 1, person
