"""A running stage: auto mode, soak timers, guardrails, pause/resume, rollback, the timeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from services.rollout.handlers import stages
from tests.integration.rollout.conftest import World, plan, stage, started

SATISFACTION = {"satisfaction": {"min_responses": 3, "min_response_rate": 0.5, "threshold": 0.4}}


async def status(admin: httpx.AsyncClient, rid: str) -> tuple[str, int | None]:
    rollout = (await admin.get(f"/v1/rollouts/{rid}")).json()
    return rollout["status"], rollout["stage"]


async def test_auto_mode_advances_on_the_decisive_answer(
    world: World, admin: httpx.AsyncClient
) -> None:
    staff = await world.people("fin", 4)
    await world.people("ops", 2)
    auto = stage("fin", gate=SATISFACTION, advance_mode="auto")
    rid = await started(world, admin, plan(auto, stage("ops")))
    for staff_id in staff[:2]:
        await world.survey(rid, staff_id, 5)
        await world.fire_timers()
        assert await status(admin, rid) == ("running", 0)
    await world.survey(rid, staff[2], 5)  # 3/3: lower bound 44 % >= 40 %
    await world.fire_timers()
    assert await status(admin, rid) == ("running", 1)
    advanced = (await world.events(rid))[-2].data  # then the new stage's first gate_changed
    assert advanced.actor == "auto"
    assert advanced.evidence.outcome == "pass"


async def test_auto_mode_advances_when_the_soak_ends(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 2)
    rid = await started(
        world, admin, plan(stage("fin", min_soak="PT2H", advance_mode="auto"), stage("ops"))
    )
    (soak,) = await world.pool.fetch("SELECT due_at FROM timers WHERE kind = $1", stages.SOAK)
    entered = (await admin.get(f"/v1/rollouts/{rid}")).json()["stage_started_at"]
    assert soak["due_at"] == datetime.fromisoformat(entered) + timedelta(hours=2)
    await world.fire_timers()
    assert await status(admin, rid) == ("running", 0)  # nothing due yet: still soaking
    await world.evaluate_at(rid, soak["due_at"])  # what the timer does when it fires
    assert await status(admin, rid) == ("running", 1)


async def test_the_soak_timer_fires_by_itself(world: World, admin: httpx.AsyncClient) -> None:
    await world.people("fin", 1)
    await world.people("ops", 1)
    rid = await started(
        world, admin, plan(stage("fin", min_soak="PT1S", advance_mode="auto"), stage("ops"))
    )
    deadline = time.monotonic() + 10
    while await status(admin, rid) != ("running", 1):
        assert time.monotonic() < deadline, "the soak timer did not advance the rollout"
        await world.fire_timers()


async def test_a_guardrail_pauses_and_a_resume_acknowledges_it(
    world: World, admin: httpx.AsyncClient
) -> None:
    staff = await world.people("fin", 8)
    await world.people("ops", 1)
    guarded = stage(
        "fin",
        gate={"satisfaction": {"min_responses": 3, "threshold": 0.7}},
        guardrails={"satisfaction_floor": 0.5},
        advance_mode="auto",
    )
    rid = await started(world, admin, plan(guarded, stage("ops")))
    for staff_id in staff[:4]:
        await world.survey(rid, staff_id, 1)
        await world.fire_timers()
    assert await status(admin, rid) == ("paused", 0)  # 0/4: upper bound 49 % < 50 %
    paused = next(e.data for e in await world.events(rid) if e.type.endswith("paused.v1"))
    assert (paused.cause, paused.guardrail, paused.actor) == (
        "guardrail",
        "satisfaction_floor",
        "auto",
    )
    assert paused.evidence.criteria[0].upper < 0.5
    rollout = (await admin.get(f"/v1/rollouts/{rid}")).json()
    assert rollout["pause"]["cause"] == "guardrail"
    stuck = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert stuck.status_code == 409
    assert stuck.json()["detail"] == "cannot advance: the rollout is paused; resume it first"

    resumed = await admin.post(f"/v1/rollouts/{rid}/resume", json={"reason": "fix deployed"})
    assert resumed.json()["rollout"]["status"] == "running", resumed.text
    await world.survey(rid, staff[0], 2)  # a changed answer, no worse: stays running
    await world.fire_timers()
    assert await status(admin, rid) == ("running", 0)
    await world.survey(rid, staff[4], 1)  # 0/5: worse than acknowledged: pauses again
    await world.fire_timers()
    assert await status(admin, rid) == ("paused", 0)


async def test_a_blocker_guardrail_pauses_and_resolving_lets_auto_mode_move(
    world: World, admin: httpx.AsyncClient
) -> None:
    staff = await world.people("fin", 3)
    await world.people("ops", 1)
    guarded = stage(
        "fin",
        gate={"satisfaction": None, "blockers": {"max_open": 0, "min_severity": "high"}},
        guardrails={"blocker_count": 1},
        advance_mode="auto",
        min_soak="PT1H",
    )
    rid = await started(world, admin, plan(guarded, stage("ops")))
    issue = await world.issue(rid, staff[0], "critical")
    await world.issue(rid, staff[1], "low")  # not a blocker
    await world.fire_timers()
    assert await status(admin, rid) == ("paused", 0)
    gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
    blockers = next(c for c in gate["criteria"] if c["name"] == "blockers")
    assert (blockers["outcome"], blockers["blocker_ids"]) == ("fail", [issue])
    assert gate["guardrails"][0]["guardrail"] == "blocker_count"

    await world.resolve(rid, issue)
    await admin.post(f"/v1/rollouts/{rid}/resume")
    await world.fire_timers()
    assert await status(admin, rid) == ("running", 0)  # soak still pending
    await world.evaluate_at(rid, datetime.now(UTC) + timedelta(hours=1))
    assert await status(admin, rid) == ("running", 1)


async def test_pause_resume_and_rollback_by_an_admin(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 3)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    assert (
        await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    ).status_code == 200
    assert (await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": ""})).status_code == 422
    paused = await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": "payroll run"})
    assert paused.json()["rollout"]["pause"]["cause"] == "manual"
    assert (
        await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": "again"})
    ).status_code == 409
    assert (await admin.post(f"/v1/rollouts/{rid}/resume")).json()["rollout"]["status"] == "running"

    stale = {"expected_stage": 0, "reason": "ops cannot print"}
    assert (await admin.post(f"/v1/rollouts/{rid}/rollback", json=stale)).status_code == 409
    back = await admin.post(
        f"/v1/rollouts/{rid}/rollback", json={"expected_stage": 1, "reason": "ops cannot print"}
    )
    rollout = back.json()["rollout"]
    assert (rollout["status"], rollout["stage"], rollout["pause"]["cause"]) == (
        "paused",
        0,
        "rollback",
    )
    rolled = (await world.events(rid))[-1].data
    assert (rolled.from_stage, rolled.to_stage) == (1, 0)
    assert rolled.cohort.member_ids == ["ops-0", "ops-1", "ops-2"]
    members = await world.pool.fetchval("SELECT count(*) FROM rollout_members")
    assert members == 2  # ops is no longer exposed

    await admin.post(f"/v1/rollouts/{rid}/resume", json={"reason": "printer driver fixed"})
    to_start = await admin.post(
        f"/v1/rollouts/{rid}/rollback", json={"expected_stage": 0, "reason": "start over"}
    )
    assert to_start.json()["rollout"]["status"] == "planned"
    assert (await world.events(rid))[-1].data.to_stage is None
    assert await world.pool.fetchval("SELECT count(*) FROM rollout_members") == 0
    assert (await admin.post(f"/v1/rollouts/{rid}/start")).json()["result"] == "started"


async def test_the_timeline_has_every_change_with_who_when_why_and_evidence(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 2)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": "quarter close"})
    await admin.post(f"/v1/rollouts/{rid}/resume", json={"reason": "close done"})
    await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    await world.fire_timers()

    page = (await admin.get(f"/v1/rollouts/{rid}/timeline", params={"limit": 4})).json()
    rest = (
        await admin.get(f"/v1/rollouts/{rid}/timeline", params={"after": page["next_after"]})
    ).json()
    items = page["items"] + rest["items"]
    assert [(i["kind"], i["actor"]) for i in items] == [
        ("created", "owner-1"),
        ("stage_advanced", "owner-1"),
        ("gate_changed", "auto"),
        ("paused", "owner-1"),
        ("resumed", "owner-1"),
        ("stage_advanced", "owner-1"),
        ("gate_changed", "auto"),
    ]
    assert items[3]["reason"] == "quarter close"
    assert items[5]["evidence"]["outcome"] == "pass"
    assert items[5]["data"]["stage"]["cohort"] == {"department_ids": ["ops"], "staff_count": 2}
    assert all(i["event_id"] for i in items)
    assert rest["next_after"] is None


async def test_evidence_from_anonymous_answers_and_from_before_the_rollout_existed(
    world: World, admin: httpx.AsyncClient
) -> None:
    body = plan(
        stage("fin", gate={"satisfaction": {"min_responses": 2, "min_response_rate": 0}}),
        stage("ops"),
    )
    early_issue = await world.issue(body["rollout_id"], "fin-0", "critical")  # before creation
    await world.people("fin", 4)
    await world.people("ops", 1)
    rid = await started(world, admin, body)
    await world.survey(rid, None, 5, department_id="fin", respondent="anon-a")
    await world.survey(rid, None, 5, department_id="ops", respondent="anon-b")  # not the cohort
    await world.survey(rid, "fin-1", 2)
    gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
    criteria = {c["name"]: c for c in gate["criteria"]}
    assert (criteria["satisfaction"]["sample_size"], criteria["satisfaction"]["value"]) == (2, 0.5)
    assert criteria["blockers"]["blocker_ids"] == [early_issue]


async def test_votes_are_taken_while_paused_and_count_after_the_resume(
    world: World, admin: httpx.AsyncClient, approver: httpx.AsyncClient
) -> None:
    staff = await world.people("fin", 4)
    await world.people("ops", 1)
    gate = {"satisfaction": {"min_responses": 3, "threshold": 0.5}}  # 3/3 is inconclusive
    rid = await started(world, admin, plan(stage("fin", gate=gate), stage("ops")))
    for staff_id in staff[:3]:
        await world.survey(rid, staff_id, 5)
    waiting = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert waiting.json()["result"] == "awaiting_approval"
    await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": "audit"})
    vote = await approver.post(f"/v1/rollouts/{rid}/approvals", json={"expected_stage": 0})
    assert vote.json()["result"] == "recorded"
    assert await status(admin, rid) == ("paused", 0)
    await admin.post(f"/v1/rollouts/{rid}/resume", json={"reason": "audit done"})
    await world.fire_timers()
    assert await status(admin, rid) == ("running", 1)  # the waiting request went through
