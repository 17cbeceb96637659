"""``Idempotency-Key`` for commands: a repeat returns the first answer and emits nothing new.

The key is claimed in the request's own transaction (or, for a route without one, in a transaction
opened here), so it commits together with the command's effect and outbox rows; a command that
fails leaves no key behind. A concurrent repeat waits on
the row lock until the first request commits, then replays its answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from shared.db import Conn, atomic

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, description="replay protection"),
]


def fingerprint(request: BaseModel | None) -> str:
    raw = request.model_dump_json().encode() if request is not None else b""
    return hashlib.sha256(raw).hexdigest()


async def idempotent(
    conn: Conn,
    key: str | None,
    *,
    scope: str,
    request: BaseModel | None,
    status: int,
    run: Callable[[], Awaitable[BaseModel | dict[str, Any]]],
) -> Response:
    """Run the command once per (scope, key); replay the stored answer for a repeat."""
    if key is None:
        answer = await run()
        if isinstance(answer, BaseModel):  # pydantic writes the JSON itself, several times faster
            body = answer.model_dump_json(by_alias=True)
            return Response(body, status_code=status, media_type="application/json")
        return JSONResponse(_json(answer), status_code=status)
    digest = fingerprint(request)
    async with atomic(conn):
        claimed = await conn.fetchval(
            """INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING RETURNING true""",
            scope,
            key,
            digest,
        )
        if not claimed:
            return await _replay(conn, scope, key, digest)
        body = _json(await run())
        await conn.execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
            scope,
            key,
            status,
            body,
        )
    return JSONResponse(body, status_code=status)


def _json(answer: BaseModel | dict[str, Any]) -> Any:
    # pydantic's own serializer does in microseconds what jsonable_encoder takes far longer for.
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(answer)


async def _replay(conn: Conn, scope: str, key: str, digest: str) -> JSONResponse:
    row = await conn.fetchrow(
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    assert row is not None
    if row["fingerprint"] != digest:
        raise HTTPException(422, "this Idempotency-Key was used for a different request")
    return JSONResponse(
        row["body"], status_code=row["status"], headers={"Idempotent-Replayed": "true"}
    )
