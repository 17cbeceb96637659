"""Starting and advancing: the gate, approvals, overrides, optimistic concurrency, completion."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.rollout.conftest import ClientFor, World, plan, stage, started

SATISFACTION = {"satisfaction": {"min_responses": 3, "min_response_rate": 0.5, "threshold": 0.5}}


async def test_start_is_gated_on_the_first_cohorts_training(
    world: World, admin: httpx.AsyncClient, approver: httpx.AsyncClient
) -> None:
    await world.department("fin", "Finance")
    staff = await world.people("fin", 4)
    await world.people("ops", 2)
    body = plan(
        stage("fin", required_course_ids=["crm"]),
        stage("ops", required_course_ids=["crm", "sso"]),
        start_gate={"training": {"min_completion": 0.75}},
    )
    assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
    rid = body["rollout_id"]
    await world.trained(staff[0], "crm")
    await world.trained(staff[1], "crm", result="failed")

    refused = await admin.post(f"/v1/rollouts/{rid}/start")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["detail"] == "the gate refuses: training is fail"
    (training,) = problem["gate"]["criteria"]
    assert (training["outcome"], training["value"], training["sample_size"]) == ("fail", 0.25, 4)
    assert [u["staff_id"] for u in training["untrained"]] == staff[1:]
    assert problem["gate"]["missing"][0] == (
        "training: 3 staff of the next cohort lack a required course: 3 in Finance"
    )
    as_approver = (await approver.get(f"/v1/rollouts/{rid}/gate")).json()
    assert as_approver["criteria"][0]["untrained"] is None  # names are for admins only
    assert as_approver["criteria"][0]["untrained_total"] == 3

    for staff_id in staff[1:3]:
        await world.trained(staff_id, "crm")
    answer = await admin.post(f"/v1/rollouts/{rid}/start")
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "started"
    assert answer.json()["rollout"]["stage"] == 0

    _created, advanced = await world.events(rid)
    assert advanced.type == "onramp.rollout.stage_advanced.v1"
    data = advanced.data
    assert (data.from_stage, data.to_stage, data.actor) == (None, 0, "owner-1")
    assert data.stage.cohort.member_ids == sorted(staff)
    assert data.stage.cohort.department_ids == ["fin"]
    assert data.next_stage.name == "ops"
    assert data.next_stage.cohort.member_ids == ["ops-0", "ops-1"]
    assert data.next_stage.required_course_ids == ["crm", "sso"]
    assert data.evidence.outcome == "pass"
    assert (await admin.post(f"/v1/rollouts/{rid}/start")).status_code == 409


async def test_inconclusive_needs_approvals_from_someone_else(
    world: World, admin: httpx.AsyncClient, client_for: ClientFor
) -> None:
    staff = await world.people("fin", 4)
    await world.people("ops", 2)
    body = plan(stage("fin", gate=SATISFACTION, approval={"required": 2}), stage("ops"))
    rid = await started(world, admin, body)
    for staff_id in staff[:3]:
        await world.survey(rid, staff_id, 5)  # 3/3: lower bound 44 % < 50 %: inconclusive
    await world.fire_timers()

    waiting = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["result"] == "awaiting_approval"
    assert waiting.json()["rollout"]["advance_request"]["requested_by"] == "owner-1"
    assert waiting.json()["gate"]["advance"] == {
        "action": "await_approval",
        "reason": "0 of 2 approvals",
    }

    owner = client_for("owner-1", "admin", "approver")
    vote = {"expected_stage": 0, "comment": "looks good"}
    self_approval = await owner.post(f"/v1/rollouts/{rid}/approvals", json=vote)
    assert self_approval.status_code == 403
    assert "owner cannot approve" in self_approval.json()["detail"]

    first = await client_for("ann", "approver").post(f"/v1/rollouts/{rid}/approvals", json=vote)
    assert first.json()["result"] == "recorded"
    stale = {"expected_stage": 1, "comment": "late"}
    assert (
        await client_for("bob", "approver").post(f"/v1/rollouts/{rid}/approvals", json=stale)
    ).status_code == 409
    second = await client_for("bob", "approver").post(f"/v1/rollouts/{rid}/approvals", json=vote)
    assert second.json()["result"] == "advanced", second.text
    assert second.json()["rollout"]["stage"] == 1

    types = await world.types(rid)
    assert types[-3:] == ["approval_recorded", "approval_recorded", "stage_advanced"]
    advanced = (await world.events(rid))[-1].data
    assert advanced.actor == "owner-1"  # who asked; the approvals are listed
    assert [a.approver_id for a in advanced.approvals] == ["ann", "bob"]
    assert advanced.evidence.outcome == "inconclusive"
    recorded = (await world.events(rid))[-2].data
    assert (recorded.approvals, recorded.approvals_required, recorded.decision) == (2, 2, "approve")


async def test_a_rejection_blocks_until_its_approver_changes_their_mind(
    world: World, admin: httpx.AsyncClient, client_for: ClientFor
) -> None:
    staff = await world.people("fin", 4)
    await world.people("ops", 1)
    rid = await started(world, admin, plan(stage("fin", gate=SATISFACTION), stage("ops")))
    for staff_id in staff[:3]:
        await world.survey(rid, staff_id, 5)
    await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    carol = client_for("carol", "approver")

    no_reason = await carol.post(
        f"/v1/rollouts/{rid}/approvals", json={"expected_stage": 0, "decision": "reject"}
    )
    assert no_reason.status_code == 422
    rejection = {"expected_stage": 0, "decision": "reject", "comment": "wait for payroll"}
    rejected = await carol.post(f"/v1/rollouts/{rid}/approvals", json=rejection)
    assert rejected.json()["result"] == "recorded"
    assert rejected.json()["rollout"]["advance_request"] is None  # the request is withdrawn

    refused = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "the gate refuses: rejected by carol; 0 of 1 approvals"
    assert [v["approver_id"] for v in refused.json()["gate"]["approvals"]["rejected"]] == ["carol"]

    approval = {"expected_stage": 0, "comment": "payroll is fine now"}
    assert (await carol.post(f"/v1/rollouts/{rid}/approvals", json=approval)).status_code == 200
    moved = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert moved.json()["result"] == "advanced", moved.text
    assert (await world.events(rid))[-1].data.approvals[0].comment == "payroll is fine now"


async def test_an_admin_overrides_a_failing_gate_with_a_written_reason(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 2)
    body = plan(stage("fin"), stage("ops", required_course_ids=["crm"]))
    body["stages"][0]["gate"]["training"] = {"min_completion": 1}
    rid = await started(world, admin, body)

    refused = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert refused.status_code == 409
    short = {"expected_stage": 0, "override": True, "reason": "urgent"}
    assert (await admin.post(f"/v1/rollouts/{rid}/advance", json=short)).status_code == 422
    reason = "Regulator deadline; ops trains on the job this week"
    forced = await admin.post(
        f"/v1/rollouts/{rid}/advance",
        json={"expected_stage": 0, "override": True, "reason": reason},
    )
    assert forced.json()["result"] == "advanced", forced.text
    advanced = (await world.events(rid))[-1].data
    assert advanced.override_reason == reason
    assert advanced.evidence.outcome == "fail"
    entry = (await admin.get(f"/v1/rollouts/{rid}/timeline")).json()["items"][-1]
    assert (entry["kind"], entry["reason"], entry["actor"]) == ("stage_advanced", reason, "owner-1")


async def test_a_stale_expected_stage_is_a_conflict_and_races_have_one_winner(
    world: World, admin: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 2)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    other = client_for("admin-2", "admin")
    answers = await asyncio.gather(
        admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0}),
        other.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["detail"] == "expected stage 0, but the rollout is at stage 1"
    assert loser["current_stage"] == 1
    assert (await world.types(rid)).count("stage_advanced") == 2  # start + one advance


async def test_a_repeated_advance_returns_the_first_answer_and_moves_once(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    await world.people("ops", 2)
    rid = await started(world, admin, plan(stage("fin"), stage("ops")))
    headers = {"Idempotency-Key": "advance-0"}
    body = {"expected_stage": 0}
    first = await admin.post(f"/v1/rollouts/{rid}/advance", json=body, headers=headers)
    again = await admin.post(f"/v1/rollouts/{rid}/advance", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert (await world.types(rid)).count("stage_advanced") == 2


async def test_leaving_the_last_stage_completes_the_rollout(
    world: World, admin: httpx.AsyncClient
) -> None:
    await world.people("fin", 2)
    rid = await started(world, admin, plan(stage("fin")))
    done = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
    assert done.json()["result"] == "completed", done.text
    assert done.json()["rollout"]["status"] == "completed"
    completed = (await world.events(rid))[-1]
    assert completed.type == "onramp.rollout.completed.v1"
    assert (completed.data.stage, completed.data.evidence.outcome) == (0, "pass")
    assert (await admin.get(f"/v1/rollouts/{rid}/gate")).status_code == 409
    assert (await admin.post(f"/v1/rollouts/{rid}/pause", json={"reason": "x"})).status_code == 409
    assert await world.pool.fetchval("SELECT count(*) FROM timers") == 0


async def test_gate_changed_is_published_only_when_the_outcome_changes(
    world: World, admin: httpx.AsyncClient
) -> None:
    staff = await world.people("fin", 10)
    await world.people("ops", 1)
    gate = {"satisfaction": {"min_responses": 5, "threshold": 0.5, "min_response_rate": 0}}
    rid = await started(world, admin, plan(stage("fin", gate=gate), stage("ops")))
    for staff_id in staff:  # inconclusive (too few), ..., then pass at 5/5 and stays
        await world.survey(rid, staff_id, 5)
        await world.fire_timers()
    await world.survey(rid, staff[0], 1)  # 9/10: still pass
    await world.fire_timers()
    changes = [e.data for e in await world.events(rid) if e.type.endswith("gate_changed.v1")]
    assert [(c.previous, c.outcome) for c in changes] == [
        (None, "inconclusive"),
        ("inconclusive", "pass"),
    ]
    assert changes[1].evidence.criteria[0].sample_size == 5
