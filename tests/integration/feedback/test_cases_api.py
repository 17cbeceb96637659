"""The case of an issue over HTTP: acknowledge, resolve, illegal transitions, events."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.feedback.conftest import FeedbackApi
from tests.integration.feedback.test_submit_api import issue, survey


async def _issue_id(api: FeedbackApi, rollout_id: str) -> str:
    async with api.client("s-1", "staff") as client:
        response = await client.post("/v1/feedback", json=issue(rollout_id))
    feedback_id: str = response.json()["feedback_id"]
    return feedback_id


async def test_acknowledge_then_resolve(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    feedback_id = await _issue_id(api, rollout_id)
    async with api.client("it-1", "it_support") as support:
        acked = await support.post(f"/v1/feedback/{feedback_id}/acknowledge")
        resolved = await support.post(
            f"/v1/feedback/{feedback_id}/resolve", json={"resolution": " Replaced the token. "}
        )
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", "it-1")
    body = resolved.json()
    assert (body["status"], body["resolved_by"], body["resolution"]) == (
        "resolved",
        "it-1",
        "Replaced the token.",
    )
    assert body["acknowledged_at"] <= body["resolved_at"]
    acknowledged, done = await api.events(".acknowledged.v1"), await api.events(".resolved.v1")
    assert [(e.data.feedback_id, e.data.actor) for e in acknowledged] == [(feedback_id, "it-1")]
    assert [(e.data.resolution, e.data.rollout_id) for e in done] == [
        ("Replaced the token.", rollout_id)
    ]
    assert done[0].subject == f"rollout/{rollout_id}"


async def test_resolving_an_open_issue_announces_both_transitions_in_order(
    api: FeedbackApi,
) -> None:
    feedback_id = await _issue_id(api, await api.know_rollout())
    async with api.client("it-1", "it_support") as support:
        response = await support.post(
            f"/v1/feedback/{feedback_id}/resolve", json={"resolution": "Fixed at first touch"}
        )
    assert response.json()["acknowledged_at"] == response.json()["resolved_at"]
    assert [e.type for e in await api.events()] == [
        "onramp.feedback.submitted.v1",
        "onramp.feedback.acknowledged.v1",
        "onramp.feedback.resolved.v1",
    ]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("acknowledge", "acknowledge"),
        ("resolve", "acknowledge"),
        ("resolve", "resolve"),
    ],
)
async def test_illegal_transitions_are_conflicts(api: FeedbackApi, first: str, then: str) -> None:
    feedback_id = await _issue_id(api, await api.know_rollout())
    body = {"resolution": "done"}
    async with api.client("it-1", "it_support") as support:
        ok = await support.post(f"/v1/feedback/{feedback_id}/{first}", json=body)
        refused = await support.post(f"/v1/feedback/{feedback_id}/{then}", json=body)
    assert ok.status_code == 200
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "already" in refused.json()["detail"]


async def test_surveys_and_comments_have_no_lifecycle(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    async with api.client("s-1", "staff") as client:
        answer = (await client.post("/v1/feedback", json=survey(rollout_id))).json()
    async with api.client("it-1", "it_support") as support:
        response = await support.post(f"/v1/feedback/{answer['feedback_id']}/acknowledge")
    assert response.status_code == 409


@pytest.mark.parametrize("body", [{}, {"resolution": ""}, {"resolution": "   "}, {"text": "x"}])
async def test_a_resolution_needs_a_text(api: FeedbackApi, body: dict[str, str]) -> None:
    feedback_id = await _issue_id(api, await api.know_rollout())
    async with api.client("it-1", "it_support") as support:
        response = await support.post(f"/v1/feedback/{feedback_id}/resolve", json=body)
    assert response.status_code == 422


async def test_unknown_feedback_is_404(api: FeedbackApi) -> None:
    async with api.client("it-1", "it_support") as support:
        missing = await support.post(
            "/v1/feedback/00000000-0000-4000-8000-000000000000/acknowledge"
        )
        malformed = await support.post("/v1/feedback/not-a-uuid/acknowledge")
    assert (missing.status_code, malformed.status_code) == (404, 422)


async def test_a_replayed_acknowledgement_answers_the_same_and_emits_nothing(
    api: FeedbackApi,
) -> None:
    feedback_id = await _issue_id(api, await api.know_rollout())
    headers = {"Idempotency-Key": "ack-1"}
    async with api.client("it-1", "it_support") as support:
        first = await support.post(f"/v1/feedback/{feedback_id}/acknowledge", headers=headers)
        again = await support.post(f"/v1/feedback/{feedback_id}/acknowledge", headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert len(await api.events(".acknowledged.v1")) == 1


async def test_concurrent_acknowledgements_one_wins(api: FeedbackApi) -> None:
    feedback_id = await _issue_id(api, await api.know_rollout())
    clients = [api.client(f"it-{n}", "it_support") for n in range(4)]
    try:
        responses = await asyncio.gather(
            *(c.post(f"/v1/feedback/{feedback_id}/acknowledge") for c in clients)
        )
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert len(await api.events(".acknowledged.v1")) == 1
