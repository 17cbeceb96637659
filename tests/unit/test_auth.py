"""Bearer-JWT verification and role checks (DESIGN §7), without any service or network."""

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from shared.auth import Principal, TokenVerifier, issue_dev_token, require_roles
from shared.http import PROBLEM_JSON, install
from shared.settings import Settings

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "another-secret-" + "fedcba9876543210" * 4
ISSUER = "https://idp.example.test"
AUDIENCE = "onramp"


def _settings(**overrides: Any) -> Settings:
    """Explicit values for every security field, so no ONRAMP_* variable leaks in."""
    values: dict[str, Any] = {
        "jwt_secret": SecretStr(SECRET),
        "jwt_algorithms": ["HS256"],
        "jwt_jwks_url": None,
        "jwt_issuer": None,
        "jwt_audience": None,
    }
    return Settings(**(values | overrides))


def _verifier(**overrides: Any) -> TokenVerifier:
    return TokenVerifier(_settings(**overrides))


def _claims(**changes: Any) -> dict[str, Any]:
    """Valid claims with some replaced (or dropped, with ...)."""
    now = int(time.time())
    claims = {"sub": "s-1", "roles": ["staff"], "iat": now, "exp": now + 600} | changes
    return {name: value for name, value in claims.items() if value is not ...}


def _hs(claims: dict[str, Any], *, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _tampered() -> str:
    """A valid staff token whose payload was swapped for an admin one, signature kept."""
    header, _, signature = issue_dev_token(SECRET, "s-1", ["staff"]).split(".")
    return f"{header}.{_b64(_claims(roles=['admin']))}.{signature}"


@cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("sub", "roles"),
    [
        ("s-1", ["admin"]),
        ("s-2", []),
        ("s-3", ["staff", "it_support"]),
        ("s-4", ["staff", "staff"]),
        ("s-5", ["approver", "some-future-role"]),
    ],
)
def test_dev_token_round_trip(sub: str, roles: list[str]) -> None:
    principal = _verifier().verify(issue_dev_token(SECRET, sub, roles))
    assert principal == Principal(sub=sub, roles=frozenset(roles))


def test_a_token_without_roles_has_none() -> None:
    principal = _verifier().verify(_hs(_claims(roles=...)))
    assert principal == Principal(sub="s-1", roles=frozenset())
    assert not principal.has_any("admin", "approver", "it_support", "staff")


_REJECTED: list[tuple[str, Callable[[], str], type[jwt.PyJWTError]]] = [
    (
        "expired",
        lambda: issue_dev_token(SECRET, "s-1", ["admin"], ttl_s=-60),
        jwt.ExpiredSignatureError,
    ),
    (
        "wrong-secret",
        lambda: issue_dev_token(OTHER_SECRET, "s-1", ["admin"]),
        jwt.InvalidSignatureError,
    ),
    ("tampered-payload", _tampered, jwt.InvalidSignatureError),
    ("alg-none", lambda: _unsigned(_claims(roles=["admin"])), jwt.InvalidAlgorithmError),
    ("hs512-not-allowed", lambda: _hs(_claims(), algorithm="HS512"), jwt.InvalidAlgorithmError),
    ("missing-sub", lambda: _hs(_claims(sub=...)), jwt.MissingRequiredClaimError),
    ("missing-exp", lambda: _hs(_claims(exp=...)), jwt.MissingRequiredClaimError),
    ("sub-not-a-string", lambda: _hs(_claims(sub=42)), jwt.exceptions.InvalidSubjectError),
    ("not-yet-valid", lambda: _hs(_claims(nbf=int(time.time()) + 600)), jwt.ImmatureSignatureError),
    ("roles-a-string", lambda: _hs(_claims(roles="admin")), jwt.InvalidTokenError),
    ("roles-an-object", lambda: _hs(_claims(roles={"admin": True})), jwt.InvalidTokenError),
    ("roles-not-strings", lambda: _hs(_claims(roles=["staff", 1])), jwt.InvalidTokenError),
    ("roles-null", lambda: _hs(_claims(roles=None)), jwt.InvalidTokenError),
    ("not-a-jwt", lambda: "not-a-jwt", jwt.DecodeError),
    ("empty", lambda: "", jwt.DecodeError),
]


@pytest.mark.parametrize(
    ("make_token", "error"),
    [(make, error) for _, make, error in _REJECTED],
    ids=[name for name, _, _ in _REJECTED],
)
def test_invalid_tokens_are_rejected(
    make_token: Callable[[], str], error: type[jwt.PyJWTError]
) -> None:
    with pytest.raises(error):
        _verifier().verify(make_token())


def test_an_rs256_token_is_refused_by_an_hs256_only_verifier() -> None:
    token = jwt.encode(_claims(roles=["admin"]), _rsa_key(), algorithm="RS256")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    with pytest.raises(jwt.InvalidAlgorithmError):
        _verifier().verify(token)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"iss": ISSUER, "aud": AUDIENCE}, None),
        ({"iss": ISSUER, "aud": [AUDIENCE, "other"]}, None),
        ({"iss": "https://evil.example", "aud": AUDIENCE}, jwt.InvalidIssuerError),
        ({"aud": AUDIENCE}, jwt.MissingRequiredClaimError),
        ({"iss": ISSUER, "aud": "another-service"}, jwt.InvalidAudienceError),
        ({"iss": ISSUER}, jwt.MissingRequiredClaimError),
    ],
    ids=["both-right", "aud-list", "wrong-iss", "no-iss", "wrong-aud", "no-aud"],
)
def test_issuer_and_audience_are_enforced_when_configured(
    changes: dict[str, Any], error: type[jwt.PyJWTError] | None
) -> None:
    verifier = _verifier(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    token = _hs(_claims(**changes))
    if error is None:
        assert verifier.verify(token).sub == "s-1"
    else:
        with pytest.raises(error):
            verifier.verify(token)


@pytest.mark.parametrize(
    "changes",
    [{}, {"iss": "https://anyone.example"}, {"aud": "another-service"}],
    ids=["none", "any-iss", "any-aud"],
)
def test_issuer_and_audience_are_not_checked_when_not_configured(changes: dict[str, Any]) -> None:
    assert _verifier().verify(_hs(_claims(**changes))).sub == "s-1"


@pytest.mark.parametrize("secret", [None, SecretStr("")], ids=["unset", "empty"])
def test_a_verifier_needs_a_secret_or_a_jwks_url(secret: SecretStr | None) -> None:
    with pytest.raises(ValueError, match="JWT"):
        _verifier(jwt_secret=secret)


# --- through FastAPI ---------------------------------------------------------------------------


def _app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = _verifier()
    install(app, max_body_bytes=1024)

    @app.get("/v1/admin")
    async def admin_only(
        principal: Annotated[Principal, Depends(require_roles("admin"))],
    ) -> dict[str, Any]:
        return {"sub": principal.sub, "roles": sorted(principal.roles)}

    @app.get("/v1/decisions")
    async def admin_or_approver(
        principal: Annotated[Principal, Depends(require_roles("admin", "approver"))],
    ) -> dict[str, Any]:
        return {"sub": principal.sub}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["instance"] == path
    assert body["type"] == "about:blank"
    return body


_UNAUTHENTICATED: list[tuple[str, dict[str, str]]] = [
    ("no-header", {}),
    ("basic-scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("garbage", _bearer("not-a-jwt")),
    ("wrong-secret", _bearer(issue_dev_token(OTHER_SECRET, "s-1", ["admin"]))),
    ("expired", _bearer(issue_dev_token(SECRET, "s-1", ["admin"], ttl_s=-60))),
    ("alg-none", _bearer(_unsigned(_claims(roles=["admin"])))),
]


@pytest.mark.parametrize(
    "headers", [h for _, h in _UNAUTHENTICATED], ids=[n for n, _ in _UNAUTHENTICATED]
)
async def test_unauthenticated_calls_get_401_problem(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/v1/admin", headers=headers)
    body = _assert_problem(response, 401, "/v1/admin")
    assert response.headers["www-authenticate"] == "Bearer"
    assert body["title"] == "Unauthorized"
    assert "sub" not in body


@pytest.mark.parametrize(
    ("path", "roles"),
    [
        ("/v1/admin", ["staff"]),
        ("/v1/admin", ["approver", "it_support"]),
        ("/v1/admin", []),
        ("/v1/decisions", ["staff"]),
    ],
)
async def test_callers_without_the_role_get_403_problem(
    client: httpx.AsyncClient, path: str, roles: list[str]
) -> None:
    response = await client.get(path, headers=_bearer(issue_dev_token(SECRET, "s-9", roles)))
    body = _assert_problem(response, 403, path)
    assert body["title"] == "Forbidden"
    assert "admin" in body["detail"]
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("path", "roles"),
    [
        ("/v1/admin", ["admin"]),
        ("/v1/admin", ["staff", "admin"]),
        ("/v1/decisions", ["approver"]),
        ("/v1/decisions", ["admin"]),
    ],
)
async def test_callers_with_a_role_get_through(
    client: httpx.AsyncClient, path: str, roles: list[str]
) -> None:
    response = await client.get(path, headers=_bearer(issue_dev_token(SECRET, "s-7", roles)))
    assert response.status_code == 200
    assert response.json()["sub"] == "s-7"


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    clock = _Clock()
    verifier = TokenVerifier(_settings(), clock=clock)
    token = _hs(_claims(exp=int(clock.now) + 60))
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # from the cache: the same object
    clock.now += 61  # past exp by the verifier's clock: not answered from the cache any more
    assert verifier.verify(token) is not first  # (PyJWT's own clock decides about expiry)


def test_a_remembered_token_is_checked_again_after_the_cache_ttl() -> None:
    clock = _Clock()
    verifier = TokenVerifier(_settings(), clock=clock)
    token = _hs(_claims(exp=int(clock.now) + 3600))
    first = verifier.verify(token)
    clock.now += TokenVerifier.CACHE_TTL_S + 1
    again = verifier.verify(token)
    assert again == first
    assert again is not first  # verified anew


def test_the_cache_keeps_the_most_recently_used_tokens() -> None:
    verifier = _verifier()
    verifier.CACHE_SIZE = 2
    tokens = [issue_dev_token(SECRET, f"s-{n}", ["staff"]) for n in range(3)]
    kept = verifier.verify(tokens[0])
    evicted = verifier.verify(tokens[1])
    assert verifier.verify(tokens[0]) is kept  # used again: now the most recent
    verifier.verify(tokens[2])  # evicts tokens[1], not tokens[0]
    assert verifier.verify(tokens[0]) is kept
    assert verifier.verify(tokens[1]) is not evicted  # verified anew
