"""How every service's routes get a database connection and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from asyncpg.pool import PoolAcquireContext
from fastapi import Depends, Request

from shared import db
from shared.settings import Settings


async def _transaction(request: Request) -> AsyncIterator[db.Conn]:
    async with db.transaction(request.app.state.runtime.pool) as conn:
        yield conn


def connection(request: Request) -> PoolAcquireContext[asyncpg.Record]:
    """A pooled connection without a transaction, for ``async with`` in the route itself: each
    statement commits on its own. Only for a route whose every write is a single statement (or
    which opens a transaction around the ones that belong together): it saves the BEGIN and
    COMMIT round trips, and holding it in the route saves what a ``yield`` dependency costs
    FastAPI per request (docs/performance.md)."""
    pool: db.Pool = request.app.state.runtime.pool
    return pool.acquire()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the transaction commits before the response is sent, so a 2xx means committed.
Tx = Annotated[db.Conn, Depends(_transaction, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
