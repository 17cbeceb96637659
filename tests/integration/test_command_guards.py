"""Idempotency keys, rate limits and housekeeping on the real database."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastapi import HTTPException
from pydantic import BaseModel

from shared import db, housekeeping, ratelimit
from shared.idempotency import idempotent
from tests.support.polling import eventually


class Command(BaseModel):
    text: str


async def test_a_repeat_returns_the_first_answer_and_runs_nothing(pool: db.Pool) -> None:
    runs: list[int] = []

    async def run() -> dict[str, Any]:
        runs.append(1)
        return {"n": len(runs)}

    answers = []
    for _ in range(2):
        async with db.transaction(pool) as conn:
            answers.append(
                await idempotent(
                    conn,
                    "k-1",
                    scope="alice:POST /x",
                    request=Command(text="a"),
                    status=201,
                    run=run,
                )
            )
    assert runs == [1]
    assert [(a.status_code, json.loads(bytes(a.body))) for a in answers] == [(201, {"n": 1})] * 2
    assert answers[1].headers["Idempotent-Replayed"] == "true"


async def test_the_same_key_with_another_body_is_refused(pool: db.Pool) -> None:
    async def run() -> dict[str, Any]:
        return {}

    async with db.transaction(pool) as conn:
        await idempotent(conn, "k", scope="s", request=Command(text="a"), status=200, run=run)
    with pytest.raises(HTTPException) as refused:
        async with db.transaction(pool) as conn:
            await idempotent(conn, "k", scope="s", request=Command(text="b"), status=200, run=run)
    assert refused.value.status_code == 422


async def test_keys_are_scoped_per_caller(pool: db.Pool) -> None:
    runs: list[str] = []

    async def run_as(who: str) -> dict[str, Any]:
        runs.append(who)
        return {}

    for who in ("alice", "bob"):
        async with db.transaction(pool) as conn:
            await idempotent(
                conn,
                "same",
                scope=who,
                request=None,
                status=200,
                run=functools.partial(run_as, who),
            )
    assert runs == ["alice", "bob"]


@asynccontextmanager
async def edge_transaction(pool: db.Pool) -> AsyncIterator[db.Conn]:
    async with db.transaction(pool) as conn:  # a route on shared.deps.Tx
        yield conn


@asynccontextmanager
async def autocommit(pool: db.Pool) -> AsyncIterator[db.Conn]:
    async with pool.acquire() as conn:  # a route on shared.deps.Autocommit
        yield conn


@pytest.mark.parametrize("edge", [edge_transaction, autocommit])
async def test_a_failed_command_leaves_its_key_free_and_nothing_it_wrote(
    pool: db.Pool, edge: Callable[[db.Pool], AbstractAsyncContextManager[db.Conn]]
) -> None:
    await pool.execute("CREATE TABLE effects (n integer)")

    def command(fail: bool, conn: db.Conn) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def run() -> dict[str, Any]:
            await conn.execute("INSERT INTO effects VALUES (1)")
            if fail:
                raise RuntimeError("boom")
            return {"ok": True}

        return run

    with pytest.raises(RuntimeError):
        async with edge(pool) as conn:
            await idempotent(
                conn, "k", scope="s", request=None, status=200, run=command(True, conn)
            )
    assert await pool.fetchval("SELECT count(*) FROM effects") == 0
    async with edge(pool) as conn:
        answer = await idempotent(
            conn, "k", scope="s", request=None, status=200, run=command(False, conn)
        )
    assert json.loads(bytes(answer.body)) == {"ok": True}
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1


async def test_concurrent_repeats_run_the_command_once(pool: db.Pool) -> None:
    runs: list[int] = []
    release = asyncio.Event()

    async def run() -> dict[str, Any]:
        runs.append(1)
        await release.wait()  # hold the first transaction open while the repeats arrive
        return {"n": 1}

    async def call() -> int:
        async with db.transaction(pool) as conn:
            answer = await idempotent(conn, "k", scope="s", request=None, status=201, run=run)
        return answer.status_code

    calls = asyncio.gather(call(), call(), call())
    await eventually(lambda: _sessions_waiting_on_a_lock(pool, 2))
    release.set()
    assert list(await calls) == [201, 201, 201]
    assert runs == [1]


async def _sessions_waiting_on_a_lock(pool: db.Pool, count: int) -> bool:
    waiting: int = await pool.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys%'"""
    )
    return waiting == count


async def test_rate_limit_refuses_over_the_limit_with_retry_after(pool: db.Pool) -> None:
    for _ in range(3):
        async with db.transaction(pool) as conn:
            await _count_hit(conn, "feedback:alice")
    with pytest.raises(ratelimit.OverLimit) as refused:
        async with db.transaction(pool) as conn:
            await _count_hit(conn, "feedback:alice")
    assert 1 <= refused.value.retry_after_s <= 3600
    async with db.transaction(pool) as conn:  # another person has their own budget
        await _count_hit(conn, "feedback:bob")


async def _count_hit(conn: db.Conn, bucket: str) -> None:
    """The statement on its own; a route runs it inside its first query."""
    hit = ratelimit.hit(bucket, limit=3, window_s=3600)
    hit.check(await conn.fetchval(ratelimit.count_hit("$1", "$2"), hit.bucket, hit.window_start))


async def test_housekeeping_deletes_only_what_is_past_retention(pool: db.Pool) -> None:
    await pool.execute(
        """INSERT INTO idempotency_keys (scope, key, fingerprint, created_at)
           VALUES ('s', 'old', 'f', now() - interval '2 days'), ('s', 'new', 'f', now())"""
    )
    await pool.execute(
        """INSERT INTO inbox (consumer, source, event_id, processed_at)
           VALUES ('c', 's', 'old', now() - interval '60 days'), ('c', 's', 'new', now())"""
    )
    deleted = await housekeeping.purge(pool)
    assert (deleted["idempotency_keys"], deleted["inbox"]) == (1, 1)
    assert await pool.fetchval("SELECT key FROM idempotency_keys") == "new"
    assert await pool.fetchval("SELECT event_id FROM inbox") == "new"
