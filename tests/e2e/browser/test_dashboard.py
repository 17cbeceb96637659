"""The rollout dashboard in headless Chromium, on a rollout seeded as users and other systems
would: HR and the learning system publish events, staff answer through the feedback service,
an admin and an approver act from the page."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
import pytest
from confluent_kafka import Producer
from playwright.async_api import Page, expect

from shared.web import NO_VALUE
from tests.e2e.browser.conftest import PageFor, Shot, token
from tests.e2e.conftest import Stack
from tests.e2e.rollout.conftest import give_feedback, hire, run_id, train

pytestmark = pytest.mark.e2e


def pilot_plan(run: str, pilots: list[str], ops: str, fin: str) -> dict[str, Any]:
    return {
        "rollout_id": f"crm-{run}",
        "name": "New CRM",
        "system": "CRM",
        "stages": [
            {
                "name": "pilot",
                "cohort": {"staff_ids": pilots},
                "gate": {
                    "satisfaction": {
                        "threshold": 0.5,
                        "min_responses": 3,
                        "min_response_rate": 0.5,
                    },
                    "training": {"min_completion": 1.0},
                    "blockers": {"max_open": 0, "min_severity": "high"},
                },
                "approval": {"required": 1, "when": "inconclusive"},
            },
            {
                "name": "finance",
                "cohort": {"department_ids": [fin]},
                "required_course_ids": ["crm-basics"],
                "gate": {"satisfaction": None, "training": None, "blockers": None},
            },
            {"name": "company", "cohort": {"department_ids": [ops, fin]}},
        ],
    }


async def seeded(
    stack: Stack, hr: Producer, db: asyncpg.Connection[Any]
) -> tuple[str, str, list[str]]:
    """A started three-stage rollout whose pilots answered (inconclusive: 3 of 3 satisfied is
    not enough evidence) and whose next cohort is untrained. Returns (rollout, owner, finance)."""
    run = run_id()
    ops, fin = f"ops-{run}", f"fin-{run}"
    pilots = [f"o{n}-{run}" for n in range(3)]
    finance = [f"f{n}-{run}" for n in range(2)]
    people = {p: ops for p in pilots} | {f: fin for f in finance}
    await hire(hr, db, people, {ops: "Operations", fin: "Finance"})
    body = pilot_plan(run, pilots, ops, fin)
    owner = f"owner-{run}"
    async with stack.client("rollout", owner, "admin") as admin:
        assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
        started = await admin.post(f"/v1/rollouts/{body['rollout_id']}/start")
        assert started.json()["result"] == "started", started.text
    for pilot in pilots:
        await give_feedback(
            stack, pilot, {"rollout_id": body["rollout_id"], "kind": "survey", "csat": 5}
        )
    return str(body["rollout_id"]), owner, finance


async def gate_of(stack: Stack, rollout_id: str, sub: str) -> dict[str, Any]:
    async with stack.client("rollout", sub, "admin") as admin:
        response = await admin.get(f"/v1/rollouts/{rollout_id}/gate")
    assert response.status_code == 200, response.text
    gate: dict[str, Any] = response.json()
    return gate


def pct(value: float) -> str:
    return f"{round(value * 100)}%"


async def open_rollout(page: Page, stack: Stack, rollout_id: str) -> None:
    await page.goto(f"{stack.url('rollout')}/dashboard/rollouts/{rollout_id}")
    await expect(page.locator("#live-head h1")).to_contain_text("New CRM")


async def test_gate_numbers_refusal_approval_and_live_stage_change(
    stack: Stack,
    hr_system: Producer,
    db_reader: asyncpg.Connection[Any],
    page_for: PageFor,
    shot: Shot,
) -> None:
    rollout_id, owner, finance = await seeded(stack, hr_system, db_reader)
    admin = await page_for(token=token(owner, "admin"))
    await open_rollout(admin, stack, rollout_id)

    # The numbers shown are the API's gate report, once the three answers are in.
    satisfaction = admin.locator("#criteria tr[data-criterion=satisfaction]")
    await expect(satisfaction.locator(".sample")).to_have_text("3")
    gate = await gate_of(stack, rollout_id, owner)
    for criterion in gate["criteria"]:
        row = admin.locator(f"#criteria tr[data-criterion={criterion['name']}]")
        await expect(row.locator(".outcome")).to_have_text(criterion["outcome"])
        if criterion["name"] in ("satisfaction", "training"):
            await expect(row.locator(".value")).to_have_text(pct(criterion["value"]))
            await expect(row.locator(".threshold")).to_have_text("≥ " + pct(criterion["threshold"]))
        sample = criterion["sample_size"]
        await expect(row.locator(".sample")).to_have_text(
            NO_VALUE if sample is None else str(sample)
        )
    lower, upper = gate["criteria"][0]["lower"], gate["criteria"][0]["upper"]
    await expect(satisfaction.locator(".interval")).to_contain_text(
        f"{pct(lower)} \u2013 {pct(upper)}"
    )
    await expect(admin.locator("#gate-outcome")).to_have_text(gate["outcome"])
    await expect(admin.locator("#readiness tr[data-department=Finance] td").last).to_have_text("2")
    await shot(admin, "gate")

    # Advancing now is refused, and the page shows the refusal report.
    await admin.locator("#advance").click()
    refusal = admin.locator("#result")
    await expect(refusal).to_contain_text("Advance refused")
    await expect(refusal.locator("tr[data-criterion=training] .outcome")).to_have_text("fail")
    await shot(admin, "refused")

    # The learning system reports Finance trained: the gate turns inconclusive, live.
    await admin.evaluate("window.__same_page = true")
    train(hr_system, finance, "crm-basics")
    await expect(admin.locator("#gate-outcome")).to_have_text("inconclusive")
    await admin.locator("#advance").click()
    await expect(admin.locator("#result")).to_contain_text("waiting for approvals")

    # An approver approves from their own page; the admin's page shows the new stage, live.
    approver = await page_for(token=token(f"ann-{rollout_id}", "approver"))
    await open_rollout(approver, stack, rollout_id)
    await approver.locator("#vote-comment").fill("pilot went well")
    await approver.locator("#approve").click()
    await expect(approver.locator("#result")).to_contain_text("advanced")
    await expect(admin.locator("#where")).to_have_text(re.compile(r"Stage 2 of 3: finance"))
    await expect(admin.locator("li[data-step='0']")).to_have_attribute("data-state", "done")
    await expect(admin.locator("#timeline tr[data-kind=stage_advanced]").first).to_contain_text(
        "ann-"
    )
    await expect(admin.locator("#result")).to_be_hidden()  # "waiting for approvals" is over
    assert await admin.evaluate("window.__same_page") is True  # no reload happened
    await shot(admin, "advanced")


async def test_a_role_that_may_not_act_sees_no_buttons_and_is_refused(
    stack: Stack,
    hr_system: Producer,
    db_reader: asyncpg.Connection[Any],
    page_for: PageFor,
    shot: Shot,
) -> None:
    rollout_id, _, _ = await seeded(stack, hr_system, db_reader)
    approver_token = token("viewer-1", "approver")
    approver = await page_for(token=approver_token)
    await open_rollout(approver, stack, rollout_id)
    await expect(approver.locator("#approve")).to_be_visible()
    await expect(approver.locator("#advance, #pause, #override, #resume")).to_have_count(0)
    headers = {"Authorization": f"Bearer {approver_token}"}
    async with httpx.AsyncClient(base_url=stack.url("rollout"), headers=headers) as client:
        refused = await client.post(
            f"/v1/rollouts/{rollout_id}/advance", json={"expected_stage": 0}
        )
    assert refused.status_code == 403, refused.text

    staff_token = token("someone-1", "staff")
    staff = await page_for(token=staff_token)
    await staff.goto(f"{stack.url('rollout')}/dashboard/rollouts/{rollout_id}")
    await expect(staff.locator("#notice")).to_contain_text("Your role may not see or do this.")
    await expect(staff.locator("#live-head, #actions")).to_have_count(0)
    headers = {"Authorization": f"Bearer {staff_token}"}
    async with httpx.AsyncClient(base_url=stack.url("rollout"), headers=headers) as client:
        for path in ("/v1/dashboard/rollouts", f"/v1/dashboard/rollouts/{rollout_id}/live"):
            assert (await client.get(path)).status_code == 403
    async with httpx.AsyncClient(base_url=stack.url("rollout")) as anonymous:
        assert (await anonymous.get("/v1/dashboard/rollouts")).status_code == 401
    await shot(staff, "refused")


async def test_the_list_links_to_the_rollout_and_the_language_switch_shows_chinese(
    stack: Stack,
    hr_system: Producer,
    db_reader: asyncpg.Connection[Any],
    page: Page,
    shot: Shot,
) -> None:
    rollout_id, owner, _ = await seeded(stack, hr_system, db_reader)
    await page.goto(f"{stack.url('rollout')}/dashboard")
    await page.locator("#token-input").fill(token(owner, "admin"))
    await page.locator("#sign-in button").click()
    row = page.locator(f"tr[data-rollout='{rollout_id}']")
    await expect(row).to_contain_text("pilot")
    await shot(page, "list")
    await row.locator("a").click()
    await expect(page.locator("#where")).to_have_text(re.compile(r"Stage 1 of 3: pilot"))

    await page.locator("button[data-lang='zh-CN']").click()
    await expect(page.locator("#where")).to_have_text(re.compile("\u7b2c 1 \u9636\u6bb5.*pilot"))
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#advance")).to_have_text("推进")
    await shot(page, "chinese")


async def test_pause_resume_and_override_from_the_page(
    stack: Stack,
    hr_system: Producer,
    db_reader: asyncpg.Connection[Any],
    page_for: PageFor,
    shot: Shot,
) -> None:
    rollout_id, owner, _ = await seeded(stack, hr_system, db_reader)
    admin = await page_for(token=token(owner, "admin"))
    await open_rollout(admin, stack, rollout_id)
    await expect(admin.locator("#resume")).to_be_hidden()

    await admin.locator("#pause-reason").fill("login outage in the pilot team")
    await admin.locator("#pause").click()
    await expect(admin.locator("#status")).to_have_text("paused")
    await expect(admin.locator("#paused")).to_contain_text("login outage in the pilot team")
    await expect(admin.locator("#pause")).to_be_hidden()
    await admin.locator("#resume").click()
    await expect(admin.locator("#status")).to_have_text("running")

    # An override needs a written reason; the API's validation message is shown as it is.
    await admin.locator("#override-reason").fill("soon")
    await admin.locator("#override").click()
    await expect(admin.locator("#result")).to_contain_text("422")
    await admin.locator("#override-reason").fill("the steering group accepted the training gap")
    await admin.locator("#override").click()
    await expect(admin.locator("#where")).to_have_text(re.compile(r"Stage 2 of 3: finance"))
    override = admin.locator("#timeline tr[data-kind=stage_advanced]").first
    await expect(override).to_contain_text("Override: the steering group accepted the training gap")
    await shot(admin, "overridden")
