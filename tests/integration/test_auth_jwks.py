"""Production tokens: RS256 keys from a JWKS endpoint (a local HTTP server plays the IdP)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth import TokenVerifier
from shared.settings import Settings

ISSUER = "https://idp.example.test/"
AUDIENCE = "onramp"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    public = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def token(key: Any, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "s-1", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}
    return jwt.encode({**payload, **claims}, key, algorithm=algorithm, headers={"kid": "k1"})


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(
        Settings(
            jwt_jwks_url=jwks_url,
            jwt_algorithms=["RS256"],
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
    )


def test_rs256_token_from_the_identity_provider_is_accepted(
    verifier: TokenVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    principal = verifier.verify(token(signing_key))
    assert (principal.sub, principal.roles) == ("s-1", frozenset({"admin"}))


@pytest.mark.parametrize(
    "claims",
    [{"iss": "https://someone-else.test/"}, {"aud": "another-app"}, {"exp": 1}],
    ids=["issuer", "audience", "expired"],
)
def test_wrong_issuer_audience_or_expiry_is_refused(
    verifier: TokenVerifier, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    with pytest.raises(jwt.PyJWTError):
        verifier.verify(token(signing_key, **claims))


def test_a_key_the_identity_provider_does_not_publish_is_refused(verifier: TokenVerifier) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.PyJWTError):
        verifier.verify(token(stranger))
