"""Every notify endpoint with every role, no token, an expired token and a wrongly signed one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from fastapi.routing import APIRoute

from services.notify.api import router
from shared.auth import ROLES
from tests.conftest import TEST_JWT_SECRET
from tests.integration.notify import builders as b
from tests.integration.notify.conftest import T0, ClientFor, World

EVERYONE = frozenset(ROLES)
CASE_ROLES = frozenset({"admin", "approver", "it_support"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {case_id} / {notification_id} placeholders
    allowed: frozenset[str]
    body: dict[str, Any] | None = None


ENDPOINTS = [
    Endpoint("GET", "/v1/me/notifications", EVERYONE),
    Endpoint("POST", "/v1/me/notifications/{notification_id}/read", EVERYONE),
    Endpoint("POST", "/v1/me/notifications/read-all", EVERYONE),
    Endpoint("GET", "/v1/me/inbox", EVERYONE),  # the inbox page's HTML fragment
    Endpoint("GET", "/v1/me/preferences", EVERYONE),
    Endpoint("PUT", "/v1/me/preferences", EVERYONE, {"digest": {"enabled": True}}),
    Endpoint("GET", "/v1/escalation-policies", frozenset({"admin", "it_support"})),
    Endpoint("GET", "/v1/escalation-policies/{name}", frozenset({"admin", "it_support"})),
    Endpoint(
        "PUT",
        "/v1/escalation-policies/{name}",
        frozenset({"admin"}),
        {"levels": [{"delay": 0, "condition": "always", "targets": ["role:it_support"]}]},
    ),
    Endpoint("GET", "/v1/escalations", CASE_ROLES),
    Endpoint("GET", "/v1/escalations/{case_id}", CASE_ROLES),
    Endpoint("POST", "/v1/escalations/{case_id}/acknowledge", CASE_ROLES),
    Endpoint("POST", "/v1/escalations/{case_id}/close", CASE_ROLES, {"reason": "done"}),
]


def test_the_matrix_covers_every_route() -> None:
    routes = {
        (method, f"/v1{route.path}")
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes == {(e.method, e.path) for e in ENDPOINTS}


def _token(*, expired: bool = False, key: str = TEST_JWT_SECRET) -> str:
    now = int(time.time())
    exp = now - 60 if expired else now + 600
    claims = {"sub": "s-1", "roles": list(ROLES), "iat": now - 120, "exp": exp}
    return jwt.encode(claims, key, algorithm="HS256")


BAD_TOKENS = {
    "no token": None,
    "expired": _token(expired=True),
    "wrongly signed": _token(key="not-the-secret-" + "x" * 32),
    "garbage": "not.a.jwt",
}


async def _resources(world: World) -> dict[str, str]:
    await world.consume(b.staff("it-1", T0, roles=["it_support"]))
    await world.consume(b.issue("r-1", T0))
    case_id = await world.pool.fetchval("SELECT case_id FROM cases")
    note = await world.pool.fetchval("SELECT notification_id FROM notifications")
    return {"case_id": str(case_id), "notification_id": str(note), "name": "urgent-issue"}


async def _call(client: Any, endpoint: Endpoint, ids: dict[str, str]) -> int:
    path = endpoint.path.format(**ids)
    response = await client.request(endpoint.method, path, json=endpoint.body)
    status: int = response.status_code
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    return status


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reaches_exactly_its_endpoints(
    world: World, client_for: ClientFor, role: str
) -> None:
    ids = await _resources(world)
    client = client_for(f"someone-{role}", role)
    for endpoint in ENDPOINTS:
        status = await _call(client, endpoint, ids)
        if role in endpoint.allowed:
            # the caller's own inbox does not hold that notification: 404, never 401/403
            assert status in (200, 204, 404), (role, endpoint, status)
        else:
            assert status == 403, (role, endpoint, status)


@pytest.mark.parametrize("token", list(BAD_TOKENS), ids=list(BAD_TOKENS))
async def test_no_valid_token_no_access(world: World, client_for: ClientFor, token: str) -> None:
    ids = await _resources(world)
    client = client_for(token=BAD_TOKENS[token]) if BAD_TOKENS[token] else client_for()
    for endpoint in ENDPOINTS:
        assert await _call(client, endpoint, ids) == 401, (token, endpoint)
