"""Every endpoint with every role, no token, an expired token and a wrongly signed one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from shared.auth import issue_dev_token
from tests.conftest import TEST_JWT_SECRET
from tests.integration.feedback.conftest import FeedbackApi
from tests.integration.feedback.test_submit_api import issue, survey

ROLES = ("admin", "approver", "it_support", "staff")
BAD_TOKENS = {
    "no-token": None,
    "expired": issue_dev_token(TEST_JWT_SECRET, "s-1", list(ROLES), ttl_s=-60),
    "wrongly-signed": issue_dev_token("another-secret-of-at-least-32-bytes!", "s-1", list(ROLES)),
}


@dataclass(frozen=True)
class Target:
    """An item someone else submitted, in a known rollout."""

    rollout_id: str
    feedback_id: str


Call = Callable[[httpx.AsyncClient, Target], Awaitable[httpx.Response]]


def _submit(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.post("/v1/feedback", json=survey(target.rollout_id))


def _list(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.get("/v1/feedback")


def _get(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.get(f"/v1/feedback/{target.feedback_id}")


def _acknowledge(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.post(f"/v1/feedback/{target.feedback_id}/acknowledge")


def _resolve(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.post(f"/v1/feedback/{target.feedback_id}/resolve", json={"resolution": "ok"})


def _summary(client: httpx.AsyncClient, target: Target) -> Awaitable[httpx.Response]:
    return client.get(f"/v1/rollouts/{target.rollout_id}/feedback-summary")


# Expected status per role, in the order of ROLES. An item is 404 (not 403) for those who may
# not see it, so that its existence is not revealed.
MATRIX: dict[str, tuple[Call, tuple[int, int, int, int]]] = {
    "POST /feedback": (_submit, (403, 403, 403, 201)),
    "GET /feedback": (_list, (200, 403, 200, 403)),
    "GET /feedback/{id}": (_get, (200, 404, 200, 404)),
    "POST /feedback/{id}/acknowledge": (_acknowledge, (403, 403, 200, 403)),
    "POST /feedback/{id}/resolve": (_resolve, (403, 403, 200, 403)),
    "GET /rollouts/{id}/feedback-summary": (_summary, (200, 200, 403, 403)),
}


async def _target(api: FeedbackApi) -> Target:
    rollout_id = await api.know_rollout()
    async with api.client("s-owner", "staff") as owner:
        response = await owner.post("/v1/feedback", json=issue(rollout_id))
    return Target(rollout_id, response.json()["feedback_id"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
async def test_each_role(api: FeedbackApi, endpoint: str, role: str) -> None:
    call, expected = MATRIX[endpoint]
    target = await _target(api)
    async with api.client(f"{role}-1", role) as client:
        response = await call(client, target)
    assert response.status_code == expected[ROLES.index(role)], response.text


@pytest.mark.parametrize("token", list(BAD_TOKENS))
@pytest.mark.parametrize("endpoint", list(MATRIX))
async def test_without_a_valid_token(api: FeedbackApi, endpoint: str, token: str) -> None:
    call, _ = MATRIX[endpoint]
    target = await _target(api)
    bad = BAD_TOKENS[token]
    client = api.client("x", token=bad) if bad else api.anonymous_client()
    async with client:
        response = await call(client, target)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
