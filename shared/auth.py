"""Bearer-JWT authentication and role checks for every ``/v1`` route (DESIGN §7)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from shared.settings import Settings

RoleName = Literal["admin", "approver", "it_support", "staff"]
ROLES: tuple[RoleName, ...] = ("admin", "approver", "it_support", "staff")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: ``sub`` is a staff id."""

    sub: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


class TokenVerifier:
    """Checks signature, expiry and (when configured) issuer and audience.

    HS256 with a shared secret in development; RS256 keys fetched from a JWKS URL in production.
    A token verified once is remembered (at most ``CACHE_SIZE`` tokens, least recently used
    first out) until it expires or ``CACHE_TTL_S`` passed, whichever is sooner: a client sends
    the same token with every request, and checking its signature each time was a measurable
    share of a request's CPU.
    """

    CACHE_SIZE = 4096
    CACHE_TTL_S = 300.0

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._algorithms = list(settings.jwt_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        if self._secret is None and self._jwks is None:
            raise ValueError("set ONRAMP_JWT_SECRET or ONRAMP_JWT_JWKS_URL")

    def verify(self, token: str) -> Principal:
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            principal, valid_until = cached
            if now < valid_until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires_at = self._check(token)
        self._verified[token] = (principal, min(expires_at, now + self.CACHE_TTL_S))
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        key: Any = self._secret
        if self._jwks is not None:
            key = self._jwks.get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token,
            key,
            algorithms=self._algorithms,
            issuer=self._issuer,
            audience=self._audience,
            options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
        )
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise jwt.InvalidTokenError("roles must be a list of strings")
        return Principal(sub=str(claims["sub"]), roles=frozenset(roles)), float(claims["exp"])


def issue_dev_token(secret: str, sub: str, roles: list[str], ttl_s: int = 12 * 3600) -> str:
    """An HS256 token for development and tests (production tokens come from the IdP)."""
    now = int(time.time())
    claims = {"sub": sub, "roles": roles, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


class Bearer(HTTPBearer):
    """A route's authentication as one dependency: the bearer token (OpenAPI's ``HTTPBearer``
    scheme), its verification and, given ``roles``, the role check (403 without any of them).

    One dependency rather than a chain of three (token, principal, roles): FastAPI's work per
    dependency was a measurable share of a small request's CPU (docs/performance.md).
    """

    def __init__(self, *roles: RoleName) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer")
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            principal = verifier.verify(credentials.credentials)
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"invalid token: {exc}", headers=_CHALLENGE) from exc
        if self.roles and not principal.has_any(*self.roles):
            raise HTTPException(403, f"requires one of the roles: {', '.join(self.roles)}")
        return principal


_CHALLENGE = {"WWW-Authenticate": "Bearer"}

CurrentPrincipal = Annotated[Principal, Depends(Bearer())]


def require_roles(*roles: RoleName) -> Bearer:
    """A dependency that lets through callers holding any of ``roles`` (403 otherwise)."""
    return Bearer(*roles)
