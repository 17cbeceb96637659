"""A three-stage rollout (pilot → one department → company) driven only as users drive it:
HR and the learning system publish events, staff answer and report through the feedback
service, IT support resolves there, admins and an approver use the rollout API."""

from __future__ import annotations

from typing import Any

import asyncpg
from confluent_kafka import Producer

from shared.events import topics
from tests.e2e.conftest import Stack
from tests.e2e.rollout.conftest import (
    give_feedback,
    hire,
    rollout_state,
    run_id,
    train,
    wait_for,
)
from tests.support.kafka import read_topic
from tests.support.polling import eventually


def the_plan(run: str, pilots: list[str], ops: str, fin: str, sales: str) -> dict[str, Any]:
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
                },
                "approval": {"required": 1, "when": "inconclusive"},
            },
            {
                "name": "finance",
                "cohort": {"department_ids": [fin]},
                "required_course_ids": ["crm-basics"],
                "gate": {
                    "satisfaction": {
                        "threshold": 0.5,
                        "min_responses": 4,
                        "min_response_rate": 0.5,
                    },
                    "blockers": {"max_open": 0, "min_severity": "high"},
                },
                "advance_mode": "auto",
                "guardrails": {"blocker_count": 1},
            },
            {
                "name": "company",
                "cohort": {"department_ids": [ops, fin, sales]},
                "gate": {"satisfaction": None},
            },
        ],
    }


async def test_pilot_to_company_with_evidence_approval_guardrail_and_timeline(
    stack: Stack, hr_system: Producer, db_reader: asyncpg.Connection[Any]
) -> None:
    run = run_id()
    ops, fin, sales = f"ops-{run}", f"fin-{run}", f"sales-{run}"
    pilots = [f"o{n}-{run}" for n in range(3)]
    finance = [f"f{n}-{run}" for n in range(4)]
    others = [f"o3-{run}", f"s0-{run}", f"s1-{run}"]
    people = {p: ops for p in pilots} | {f: fin for f in finance}
    people |= {others[0]: ops, others[1]: sales, others[2]: sales}
    await hire(hr_system, db_reader, people, {ops: "Operations", fin: "Finance", sales: "Sales"})
    body = the_plan(run, pilots, ops, fin, sales)
    rid = body["rollout_id"]
    admin = stack.client("rollout", f"owner-{run}", "admin")
    owner_as_approver = stack.client("rollout", f"owner-{run}", "admin", "approver")
    approver = stack.client("rollout", f"ann-{run}", "approver")

    async with admin, owner_as_approver, approver:
        assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
        started = await admin.post(f"/v1/rollouts/{rid}/start", headers={"Idempotency-Key": run})
        assert started.json()["result"] == "started", started.text

        # A blocked advance, with its report: Finance is not trained, the pilots have not answered.
        blocked = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
        assert blocked.status_code == 409
        report = blocked.json()["gate"]
        criteria = {c["name"]: c for c in report["criteria"]}
        assert criteria["training"]["outcome"] == "fail"
        assert sorted(u["staff_id"] for u in criteria["training"]["untrained"]) == finance
        assert criteria["satisfaction"]["missing"] == ["3 more responses needed: 3 from Operations"]

        train(hr_system, finance, "crm-basics")
        for pilot in pilots:  # 3 of 3 satisfied: Wilson lower bound 44 %, under the 50 %
            await give_feedback(stack, pilot, {"rollout_id": rid, "kind": "survey", "csat": 5})

        async def inconclusive_and_trained() -> bool:
            gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
            outcomes = {c["name"]: c["outcome"] for c in gate["criteria"]}
            return bool(outcomes["training"] == "pass" and gate["outcome"] == "inconclusive")

        await eventually(inconclusive_and_trained, timeout=30)

        # Inconclusive: the advance waits for an approval, which the owner may not give.
        waiting = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 0})
        assert waiting.json()["result"] == "awaiting_approval", waiting.text
        vote = {"expected_stage": 0, "comment": "pilot went well"}
        own = await owner_as_approver.post(f"/v1/rollouts/{rid}/approvals", json=vote)
        assert own.status_code == 403
        approved = await approver.post(f"/v1/rollouts/{rid}/approvals", json=vote)
        assert approved.json()["result"] == "advanced", approved.text

        # A critical issue from Finance trips the guardrail; IT support resolves it.
        issue = {
            "rollout_id": rid,
            "kind": "issue",
            "severity": "critical",
            "text": "Invoices do not sync",
        }
        issue_id = await give_feedback(stack, finance[0], issue)
        paused = await wait_for(admin, rid, status="paused", stage=1)
        assert paused["pause"]["cause"] == "guardrail"
        assert paused["pause"]["guardrail"] == "blocker_count"
        async with stack.client("feedback", f"it-{run}", "it_support") as support:
            resolution = {"resolution": "Sync job restarted"}
            resolved = await support.post(f"/v1/feedback/{issue_id}/resolve", json=resolution)
            assert resolved.status_code == 200, resolved.text

        async def blocker_resolved() -> bool:
            gate = (await admin.get(f"/v1/rollouts/{rid}/gate")).json()
            blockers = next(c for c in gate["criteria"] if c["name"] == "blockers")
            return bool(blockers["outcome"] == "pass")

        await eventually(blocker_resolved, timeout=30)
        resumed = await admin.post(f"/v1/rollouts/{rid}/resume", json={"reason": "sync fixed"})
        assert resumed.json()["rollout"]["status"] == "running", resumed.text

        # Auto mode: the fourth satisfied answer from Finance moves it on by itself.
        for person in finance:
            await give_feedback(stack, person, {"rollout_id": rid, "kind": "survey", "csat": 5})
        await wait_for(admin, rid, status="running", stage=2)

        done = await admin.post(f"/v1/rollouts/{rid}/advance", json={"expected_stage": 2})
        assert done.json()["result"] == "completed", done.text
        assert (await rollout_state(admin, rid))["status"] == "completed"

        timeline = (await admin.get(f"/v1/rollouts/{rid}/timeline", params={"limit": 500})).json()
    entries = [(e["kind"], e["actor"], e["stage"]) for e in timeline["items"]]
    decisions = [e for e in entries if e[0] != "gate_changed"]
    assert decisions == [
        ("created", f"owner-{run}", None),
        ("stage_advanced", f"owner-{run}", 0),
        ("advance_requested", f"owner-{run}", 0),
        ("approval_recorded", f"ann-{run}", 0),
        ("stage_advanced", f"owner-{run}", 1),
        ("paused", "auto", 1),
        ("resumed", f"owner-{run}", 1),
        ("stage_advanced", "auto", 2),
        ("completed", f"owner-{run}", 2),
    ]
    assert ("gate_changed", "auto", 1) in entries
    by_kind = {e["kind"]: e for e in timeline["items"]}
    assert by_kind["paused"]["reason"] == "1 open blockers, the guardrail pauses at 1"
    assert by_kind["resumed"]["reason"] == "sync fixed"
    assert all(e["evidence"] for e in timeline["items"] if e["kind"] != "created")

    # What notify reads: every stage_advanced names its cohort, the next one and its courses.
    assert stack.settings.kafka_bootstrap
    records = await read_topic(stack.settings.kafka_bootstrap, topics.ROLLOUT, expect=1)
    ours = [r for r in records if r.key == rid.encode()]
    types = [dict(r.headers)["ce_type"].decode() for r in ours]
    assert types.count("onramp.rollout.stage_advanced.v1") == 3
    assert types[-1] == "onramp.rollout.completed.v1"
    first = next(r for r in ours if b"stage_advanced" in dict(r.headers)["ce_type"])
    assert b'"member_ids":["' + pilots[0].encode() in first.value
    assert b'"required_course_ids":["crm-basics"]' in first.value
