"""Creating and reading plans over HTTP, on the real database."""

from __future__ import annotations

import httpx

from tests.integration.rollout.conftest import World, plan, stage


async def test_a_plan_is_created_published_and_read_back(
    world: World, admin: httpx.AsyncClient, approver: httpx.AsyncClient
) -> None:
    body = plan(
        stage("pilot", cohort={"department_ids": ["fin"], "percent": 20}, min_soak="P1D"),
        stage("finance", cohort={"department_ids": ["fin"]}, advance_mode="auto"),
        description="CRM for everyone",
    )
    created = await admin.post("/v1/rollouts", json=body)
    assert created.status_code == 201, created.text
    rollout = created.json()
    assert (rollout["status"], rollout["stage"], rollout["owner_id"]) == (
        "planned",
        None,
        "owner-1",
    )
    assert rollout["plan"]["stages"][0]["min_soak"] == "P1D"

    read = await approver.get(f"/v1/rollouts/{body['rollout_id']}")
    assert read.json() == rollout
    listed = await approver.get("/v1/rollouts", params={"status": "planned"})
    assert [r["rollout_id"] for r in listed.json()["items"]] == [body["rollout_id"]]

    (event,) = await world.events(body["rollout_id"])
    assert event.type == "onramp.rollout.created.v1"
    assert event.subject == f"rollout/{body['rollout_id']}"
    assert [(s.index, s.name, s.min_soak_seconds) for s in event.data.stages] == [
        (0, "pilot", 86400),
        (1, "finance", 0),
    ]
    assert event.data.stages[0].cohort.percent == 20


async def test_an_id_is_generated_and_an_owner_may_be_named(admin: httpx.AsyncClient) -> None:
    body = plan(stage("a"), owner_id="cio")
    del body["rollout_id"]
    created = await admin.post("/v1/rollouts", json=body)
    assert created.status_code == 201
    assert created.json()["rollout_id"].startswith("r-")
    assert created.json()["owner_id"] == "cio"


async def test_a_taken_id_is_a_conflict(admin: httpx.AsyncClient) -> None:
    body = plan(stage("a"))
    assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
    again = await admin.post("/v1/rollouts", json=body)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_an_impossible_plan_is_refused_with_where_and_why(admin: httpx.AsyncClient) -> None:
    gate = {"satisfaction": {"threshold": 0.7}}
    body = plan(stage("a", gate=gate, guardrails={"satisfaction_floor": 0.9}))
    refused = await admin.post("/v1/rollouts", json=body)
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["loc"] == ["body", "stages", 0]
    assert "floor must be below" in error["msg"]


async def test_a_repeated_create_returns_the_first_answer_and_publishes_once(
    world: World, admin: httpx.AsyncClient
) -> None:
    body = plan(stage("a"))
    headers = {"Idempotency-Key": "create-1"}
    first = await admin.post("/v1/rollouts", json=body, headers=headers)
    second = await admin.post("/v1/rollouts", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await world.types(body["rollout_id"]) == ["created"]


async def test_unknown_rollouts_are_404(admin: httpx.AsyncClient) -> None:
    for path in ("", "/gate", "/timeline"):
        assert (await admin.get(f"/v1/rollouts/r-nope{path}")).status_code == 404
    advance = await admin.post("/v1/rollouts/r-nope/advance", json={"expected_stage": 0})
    assert advance.status_code == 404
