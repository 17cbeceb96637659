"""HTTP conventions (DESIGN §6, §7): problem details for every error, and the request body cap."""

import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Message

from shared.http import PROBLEM_JSON, install

CAP = 64


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    qty: int = Field(ge=1)


def _app() -> FastAPI:
    app = FastAPI()
    install(app, max_body_bytes=CAP)

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, Any]:
        raise HTTPException(404, "x")

    @app.get("/search")
    async def search(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/busy")
    async def busy() -> None:
        raise HTTPException(429, "slow down", headers={"Retry-After": "3"})

    @app.post("/stale")
    async def stale() -> None:
        raise HTTPException(409, detail={"expected_stage": 2, "current_stage": 3})

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    title = HTTPStatus(status).phrase  # "Content Too Large" from Python 3.13 on
    assert (body["type"], body["title"], body["status"]) == ("about:blank", title, status)
    return body


def _item_json(size: int) -> bytes:
    """A valid Item body of exactly ``size`` bytes."""
    skeleton = json.dumps({"name": "", "qty": 1}).encode()
    body = json.dumps({"name": "n" * (size - len(skeleton)), "qty": 1}).encode()
    assert len(body) == size
    return body


async def _chunks(body: bytes, size: int = 10) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "locs", "types"),
    [
        ({"name": "", "qty": 0}, [["body", "name"], ["body", "qty"]], {"string_too_short"}),
        ({"qty": 1}, [["body", "name"]], {"missing"}),
        ({"name": "a", "qty": "many"}, [["body", "qty"]], {"int_parsing"}),
        ({"name": "a", "qty": 1, "admin": True}, [["body", "admin"]], {"extra_forbidden"}),
        ([1, 2], [["body"]], {"model_attributes_type"}),
    ],
    ids=["too-short-and-too-small", "missing", "wrong-type", "extra-field", "not-an-object"],
)
async def test_invalid_bodies_become_422_problems(
    client: httpx.AsyncClient, payload: Any, locs: list[list[str]], types: set[str]
) -> None:
    response = await client.post("/items", json=payload)
    body = _problem(response, 422)
    assert body["instance"] == "/items"
    assert body["detail"] == "the request is not valid"
    errors = body["errors"]
    assert all(set(error) == {"loc", "msg", "type"} for error in errors)
    assert all(isinstance(error["msg"], str) and error["msg"] for error in errors)
    assert [error["loc"] for error in errors] == locs
    assert types <= {error["type"] for error in errors}


async def test_invalid_json_becomes_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    body = _problem(response, 422)
    assert [error["type"] for error in body["errors"]] == ["json_invalid"]


@pytest.mark.parametrize(
    ("url", "loc"),
    [("/search?limit=ten", ["query", "limit"]), ("/items/abc", ["path", "item_id"])],
)
async def test_invalid_parameters_become_422_problems(
    client: httpx.AsyncClient, url: str, loc: list[str]
) -> None:
    body = _problem(await client.get(url), 422)
    assert [error["loc"] for error in body["errors"]] == [loc]


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    secret = "do-not-echo-" + "z" * 20
    response = await client.post("/items", json={"name": secret, "qty": -1})
    _problem(response, 422)
    assert secret not in response.text


# --- HTTP exceptions ---------------------------------------------------------------------------


async def test_http_exception_becomes_a_problem_with_detail_and_instance(
    client: httpx.AsyncClient,
) -> None:
    body = _problem(await client.get("/items/7"), 404)
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "x",
        "instance": "/items/7",
    }


async def test_http_exception_headers_are_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/busy")
    body = _problem(response, 429)
    assert body["detail"] == "slow down"
    assert response.headers["retry-after"] == "3"


async def test_a_dict_detail_becomes_extension_members(client: httpx.AsyncClient) -> None:
    body = _problem(await client.post("/stale"), 409)
    assert (body["expected_stage"], body["current_stage"]) == (2, 3)
    assert "detail" not in body


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/items/7", 405)],
)
async def test_routing_errors_are_problems_too(
    client: httpx.AsyncClient, method: str, url: str, status: int
) -> None:
    response = await client.request(method, url)
    body = _problem(response, status)
    assert body["instance"] == url
    if status == 405:
        assert "GET" in response.headers["allow"]


# --- body cap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("size", "status"),
    [(CAP - 1, 200), (CAP, 200), (CAP + 1, 413), (10 * CAP, 413)],
    ids=["under", "at-cap", "one-over", "far-over"],
)
async def test_request_bodies_are_capped(
    client: httpx.AsyncClient, size: int, status: int, chunked: bool
) -> None:
    body = _item_json(size)
    content: bytes | AsyncIterator[bytes] = _chunks(body) if chunked else body
    response = await client.post(
        "/items", content=content, headers={"content-type": "application/json"}
    )
    assert ("content-length" in response.request.headers) is not chunked
    if status == 200:
        assert response.status_code == 200
        assert response.json()["qty"] == 1
    else:
        problem = _problem(response, 413)
        assert problem["detail"] == f"request body over {CAP} bytes"


async def test_a_declared_length_over_the_cap_is_refused_on_any_route(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/busy", content=b"x" * (CAP + 1))
    _problem(response, 413)


async def test_a_body_longer_than_its_declared_length_is_still_capped() -> None:
    """Straight through ASGI, since an HTTP client always declares the true length."""
    body = _item_json(2 * CAP)
    incoming: list[Message] = [
        {"type": "http.request", "body": body[:CAP], "more_body": True},
        {"type": "http.request", "body": body[CAP:], "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"t"),
            (b"content-type", b"application/json"),
            (b"content-length", b"10"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    await _app()(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert answer["detail"] == f"request body over {CAP} bytes"
