"""Every rollout endpoint with every role, no token, an expired token and a wrongly signed one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.auth import ROLES, issue_dev_token
from tests.conftest import TEST_JWT_SECRET
from tests.e2e.conftest import Stack

R = "/v1/rollouts/r-authz-none"
ADMIN, READERS, APPROVER = {"admin"}, {"admin", "approver"}, {"approver"}

# (method, path, body, roles allowed). Bodies are empty: an allowed caller gets 404 or 422,
# never 401 or 403; the roles are checked before the body.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/rollouts", {}, ADMIN),
    ("GET", "/v1/rollouts", None, READERS),
    ("GET", R, None, READERS),
    ("POST", f"{R}/start", None, ADMIN),
    ("GET", f"{R}/gate", None, READERS),
    ("POST", f"{R}/advance", {"expected_stage": 0}, ADMIN),
    ("POST", f"{R}/approvals", {"expected_stage": 0}, APPROVER),
    ("POST", f"{R}/pause", {"reason": "x"}, ADMIN),
    ("POST", f"{R}/resume", None, ADMIN),
    ("POST", f"{R}/rollback", {"expected_stage": 0, "reason": "x"}, ADMIN),
    ("GET", f"{R}/timeline", None, READERS),
    # the dashboard's HTML fragments
    ("GET", "/v1/dashboard/rollouts", None, READERS),
    ("GET", R.replace("/v1/", "/v1/dashboard/"), None, READERS),
    ("GET", R.replace("/v1/", "/v1/dashboard/") + "/live", None, READERS),
]
IDS = [f"{method} {path.replace(R, '{id}')}" for method, path, _, _ in ENDPOINTS]


async def call(
    stack: Stack, method: str, path: str, body: dict[str, Any] | None, token: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=stack.url("rollout"), timeout=10) as client:
        return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=IDS)
async def test_each_role_gets_what_it_may(
    stack: Stack, method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    for role in ROLES:
        token = issue_dev_token(TEST_JWT_SECRET, f"someone-{role}", [role])
        response = await call(stack, method, path, body, token)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=IDS)
async def test_no_valid_token_no_entry(
    stack: Stack, method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    expired = issue_dev_token(TEST_JWT_SECRET, "admin-1", ["admin", "approver"], ttl_s=-60)
    forged = issue_dev_token("another-secret-of-at-least-32-bytes!", "admin-1", ["admin"])
    for token in (None, expired, forged, "not-a-jwt"):
        response = await call(stack, method, path, body, token)
        assert response.status_code == 401, (token, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
