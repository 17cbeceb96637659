"""POST /v1/feedback on the real database: validation, idempotency, rate limit, anonymity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.feedback import repository
from services.feedback.domain import privacy
from services.feedback.handlers import submission
from services.feedback.schemas import FeedbackIn
from shared import db, ratelimit
from tests.integration.feedback.conftest import (
    TEST_SECRET,
    FeedbackApi,
    policy_with,
    tables_mentioning,
)


def survey(rollout_id: str, **fields: Any) -> dict[str, Any]:
    return {"rollout_id": rollout_id, "kind": "survey", "csat": 4} | fields


def issue(rollout_id: str, **fields: Any) -> dict[str, Any]:
    return {"rollout_id": rollout_id, "kind": "issue", "severity": "high", "text": "VPN drops"} | (
        fields
    )


async def place_in_department(api: FeedbackApi, staff_id: str, department_id: str) -> None:
    async with db.transaction(api.pool) as conn:
        key = privacy.person_key(TEST_SECRET, staff_id)
        await repository.record_person(conn, key, department_id, datetime.now(UTC))


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "survey", "csat": 5, "nps": 9, "text": "Quick and clear"},
        {"kind": "issue", "severity": "critical", "category": "login", "text": "Cannot sign in"},
        {"kind": "comment", "text": "The training videos helped"},
    ],
    ids=["survey", "issue", "comment"],
)
async def test_each_kind_is_stored_and_announced(api: FeedbackApi, body: dict[str, Any]) -> None:
    rollout_id = await api.know_rollout()
    await place_in_department(api, "s-ann", "finance")
    async with api.client("s-ann", "staff") as client:
        response = await client.post("/v1/feedback", json={"rollout_id": rollout_id, **body})
    assert response.status_code == 201, response.text
    stored = response.json()
    assert {k: stored[k] for k in body} == body
    assert (stored["staff_id"], stored["department_id"], stored["channel"]) == (
        "s-ann",
        "finance",
        "http",
    )
    (event,) = await api.events()
    assert event.type == "onramp.feedback.submitted.v1"
    assert (event.source, event.subject) == ("/onramp/feedback", f"rollout/{rollout_id}")
    data = event.data.model_dump()
    assert data["feedback_id"] == stored["feedback_id"]
    assert {k: data[k] for k in body} == body
    assert data["staff_id"] == "s-ann"
    assert data["respondent_key"]


async def test_an_issue_opens_a_case_with_sla_due_times(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        stored = (await client.post("/v1/feedback", json=issue(rollout_id))).json()
    submitted = datetime.fromisoformat(stored["submitted_at"])
    assert stored["status"] == "open"
    assert (
        datetime.fromisoformat(stored["ack_due_at"]) - submitted
        == api.policy.sla.acknowledge["high"]
    )
    assert (
        datetime.fromisoformat(stored["resolve_due_at"]) - submitted
        == api.policy.sla.resolve["high"]
    )


async def test_feedback_for_an_unknown_rollout_is_refused(api: FeedbackApi) -> None:
    async with api.client("s-1", "staff") as client:
        response = await client.post("/v1/feedback", json=survey("no-such-rollout"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"loc": ["body", "rollout_id"], "msg": "no such rollout", "type": "unknown_rollout"}
    ]
    assert await api.events() == []


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"kind": "survey"}, "survey_without_score"),
        ({"kind": "issue", "severity": "low"}, "issue_without_text"),
        ({"kind": "comment", "text": "x", "csat": 5}, "score_not_on_survey"),
        ({"kind": "survey", "csat": "5"}, "int_type"),
        ({"kind": "comment", "text": "t" * 4001}, "string_too_long"),
        ({"kind": "comment", "text": "x", "staff_id": "s-2"}, "extra_forbidden"),
        ({"kind": "comment", "text": "null \x00 byte"}, "nul_character"),
    ],
)
async def test_invalid_feedback_gets_a_problem_naming_the_rule(
    api: FeedbackApi, body: dict[str, Any], error_type: str
) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        response = await client.post("/v1/feedback", json={"rollout_id": rollout_id, **body})
    assert response.status_code == 422
    assert error_type in [error["type"] for error in response.json()["errors"]]
    assert await api.events() == []


async def test_a_body_over_64_kib_is_refused_before_parsing(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        response = await client.post(
            "/v1/feedback", json=survey(rollout_id, text="x" * 70_000, kind="comment")
        )
    assert response.status_code == 413


async def test_a_repeat_with_the_same_idempotency_key_returns_the_first_answer(
    api: FeedbackApi,
) -> None:
    rollout_id = await api.know_rollout()
    headers = {"Idempotency-Key": "k-1"}
    async with api.client("s-1", "staff") as client:
        first = await client.post("/v1/feedback", json=survey(rollout_id), headers=headers)
        again = await client.post("/v1/feedback", json=survey(rollout_id), headers=headers)
        other = await client.post("/v1/feedback", json=survey(rollout_id, csat=1), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422  # the same key for another request
    assert len(await api.events()) == 1


async def test_submissions_are_rate_limited_per_person(api: FeedbackApi) -> None:
    api.policy = policy_with(rate_limit=2, rate_window_s=3600)
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        statuses = [
            (
                await client.post(
                    "/v1/feedback", json=survey(rollout_id), headers={"Idempotency-Key": "same"}
                )
            ).status_code
            for _ in range(3)  # replays do not use the budget
        ]
        statuses += [(await client.post("/v1/feedback", json=survey(rollout_id))).status_code]
        refused = await client.post("/v1/feedback", json=survey(rollout_id))
    assert statuses == [201, 201, 201, 201]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # The one statement that counted the refused hit stored and staged nothing for it.
    assert await api.pool.fetchval("SELECT count(*) FROM feedback") == 2
    assert len(await api.events()) == 2
    async with api.client("s-2", "staff") as someone_else:
        assert (await someone_else.post("/v1/feedback", json=survey(rollout_id))).status_code == 201


async def test_anonymous_feedback_keeps_department_and_key_but_no_staff_id(
    api: FeedbackApi,
) -> None:
    rollout_id = await api.know_rollout()
    await place_in_department(api, "s-quiet", "hr")
    async with api.client("s-quiet", "staff") as client:
        response = await client.post(
            "/v1/feedback", json=issue(rollout_id, anonymous=True), headers={"Idempotency-Key": "a"}
        )
        stored = response.json()
        own = await client.get(f"/v1/feedback/{stored['feedback_id']}")
    assert (stored["anonymous"], stored["staff_id"], stored["department_id"]) == (True, None, "hr")
    assert own.status_code == 200  # the submitter still finds it, through the keyed hash
    (event,) = await api.events()
    assert event.data.staff_id is None
    assert event.data.department_id == "hr"
    async with api.client("s-other", "staff") as other:
        assert (await other.get(f"/v1/feedback/{stored['feedback_id']}")).status_code == 404
    assert await tables_mentioning(api.pool, api.schema, "s-quiet") == []
    async with api.client("s-named", "staff") as named:  # the scan does see a staff id
        await named.post("/v1/feedback", json=issue(rollout_id), headers={"Idempotency-Key": "n"})
    assert await tables_mentioning(api.pool, api.schema, "s-named") == [
        "feedback",
        "idempotency_keys",
        "outbox",
    ]


async def test_a_newer_survey_answer_replaces_the_older_one(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        first = (await client.post("/v1/feedback", json=survey(rollout_id, csat=2))).json()
        second = (
            await client.post("/v1/feedback", json=survey(rollout_id, csat=5, anonymous=True))
        ).json()
        first_now = (await client.get(f"/v1/feedback/{first['feedback_id']}")).json()
    assert (first_now["superseded"], second["superseded"]) == (True, False)
    async with api.client("a-1", "admin") as admin:
        summary = (await admin.get(f"/v1/rollouts/{rollout_id}/feedback-summary")).json()
    assert (summary["answers"], summary["respondents"]) == (2, 1)
    assert summary["csat"]["distribution"]["5"] == 1
    events = await api.events()
    assert events[0].data.respondent_key == events[1].data.respondent_key


async def test_an_answer_posted_after_a_newer_one_says_it_is_replaced(api: FeedbackApi) -> None:
    """ "Newer" is by when the person answered: an answer stored earlier can still be newer (a
    survey tool's clock runs ahead), and the response to the late answer says so at once."""
    rollout_id = await api.know_rollout()
    answered_later = datetime.now(UTC) + timedelta(minutes=1)
    async with db.transaction(api.pool) as conn:
        newer = await submission.submit_feedback(
            conn,
            FeedbackIn(rollout_id=rollout_id, kind="survey", csat=5),
            "s-late",
            policy=api.policy,
            now=answered_later,
            hit=ratelimit.hit("s-late", limit=10, window_s=60),
        )
    async with api.client("s-late", "staff") as client:
        late = (await client.post("/v1/feedback", json=survey(rollout_id, csat=1))).json()
        other = (await client.post("/v1/feedback", json=issue(rollout_id))).json()
    async with api.client("s-else", "staff") as client:
        someone_else = (await client.post("/v1/feedback", json=survey(rollout_id))).json()
    assert newer["superseded"] is False
    assert (late["superseded"], other["superseded"], someone_else["superseded"]) == (
        True,
        False,
        False,
    )


async def test_issues_do_not_replace_each_other(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        for text in ("one", "two"):
            await client.post("/v1/feedback", json=issue(rollout_id, text=text))
    async with api.client("a-1", "admin") as admin:
        summary = (await admin.get(f"/v1/rollouts/{rollout_id}/feedback-summary")).json()
    assert summary["issues"]["total"] == 2


async def test_nothing_is_left_behind_by_a_refused_submission(api: FeedbackApi) -> None:
    async with api.client("s-1", "staff") as client:
        await client.post(
            "/v1/feedback", json=survey("unknown"), headers={"Idempotency-Key": str(uuid.uuid4())}
        )
    for table in ("feedback", "outbox", "idempotency_keys", "rate_limits"):
        assert await api.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
