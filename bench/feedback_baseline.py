"""The baseline of bench.feedback_throughput: a bare FastAPI + asyncpg endpoint, one INSERT.

No authentication, validation beyond JSON, idempotency, rate limit, outbox or logging: what the
simplest possible "store this feedback" endpoint costs on the same machine, database and server.

    BENCH_DATABASE_URL=postgresql://... uvicorn bench.feedback_baseline:app --port 8101
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI

from shared.settings import Settings

SCHEMA = "bench_baseline"


async def _prepare(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.feedback (
                    feedback_id uuid PRIMARY KEY,
                    body jsonb NOT NULL,
                    submitted_at timestamptz NOT NULL DEFAULT now())"""
        )
    finally:
        await conn.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["BENCH_DATABASE_URL"]
    await _prepare(url)
    # The same pool size as the feedback service's.
    size = Settings().database_pool_size
    app.state.pool = await asyncpg.create_pool(url, min_size=1, max_size=size)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/feedback", status_code=201)
async def submit(body: dict[str, Any]) -> dict[str, str]:
    feedback_id = uuid.uuid4()
    await app.state.pool.execute(
        f"INSERT INTO {SCHEMA}.feedback (feedback_id, body) VALUES ($1, $2::jsonb)",
        feedback_id,
        json.dumps(body),
    )
    return {"feedback_id": str(feedback_id)}
