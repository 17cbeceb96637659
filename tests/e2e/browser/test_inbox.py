"""The staff inbox page served by notify, and an escalation reaching the rollout dashboard
(notify's escalation.* events projected by the rollout service), in headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Producer
from playwright.async_api import expect

from tests.e2e.browser.conftest import PageFor, Shot, token
from tests.e2e.conftest import Stack
from tests.e2e.rollout.conftest import hire, run_id
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


async def test_staff_read_their_notifications_and_the_override_escalation_shows_on_the_dashboard(
    stack: Stack,
    hr_system: Producer,
    db_reader: asyncpg.Connection[Any],
    page_for: PageFor,
    shot: Shot,
) -> None:
    run = run_id()
    dept, member, owner = f"it-{run}", f"mei-{run}", f"owner-{run}"
    await hire(hr_system, db_reader, {member: dept}, {dept: "IT"})

    async def notify_knows_them() -> bool:
        found = await db_reader.fetchval(
            "SELECT count(*) FROM notify.staff WHERE staff_id = $1", member
        )
        return bool(found)

    await eventually(notify_knows_them, timeout=30)
    rollout_id = f"wiki-{run}"
    body = {
        "rollout_id": rollout_id,
        "name": "New wiki",
        "stages": [
            {
                "name": "pilot",
                "cohort": {"department_ids": [dept]},
                "required_course_ids": ["wiki-intro"],
                "gate": {"satisfaction": None, "training": None, "blockers": None},
            }
        ],
    }
    async with stack.client("rollout", owner, "admin") as admin:
        assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
        reason = {"override": True, "reason": "the pilot starts before the course is ready"}
        started = await admin.post(f"/v1/rollouts/{rollout_id}/start", json=reason)
        assert started.json()["result"] == "started", started.text

    async def notified() -> bool:
        found = await db_reader.fetchval(
            "SELECT count(*) FROM notify.notifications WHERE recipient_id = $1 AND rollout_id = $2",
            member,
            rollout_id,
        )
        return bool(found)

    await eventually(notified, timeout=30)

    inbox = await page_for(token=token(member, "staff"))
    await inbox.goto(f"{stack.url('notify')}/inbox")
    first = inbox.locator("li.unread").first
    await expect(first.locator(".subject")).to_contain_text("New wiki")
    unread = int(re.sub(r"\D", "", await inbox.locator("#unread").inner_text()))
    assert unread >= 1
    await shot(inbox, "unread")
    read_id = await first.get_attribute("data-notification")
    await first.locator("button.mark-read").click()
    done = inbox.locator(f"li[data-notification='{read_id}']")
    await expect(done).to_have_class("read")
    await expect(inbox.locator("#unread")).to_have_text(f"{unread - 1} unread")
    await shot(inbox, "read")

    # The override opened an escalation in notify; the rollout service learnt of it by event.
    dashboard = await page_for(token=token(owner, "admin"))
    await dashboard.goto(f"{stack.url('rollout')}/dashboard/rollouts/{rollout_id}")
    await expect(dashboard.locator("#escalations tr[data-case]")).to_have_count(1)
    await expect(dashboard.locator("#escalation-count")).to_have_text("1")
    await shot(dashboard, "escalation")
