"""FastAPI dependency aliases shared by every service's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from shared import db
from shared.settings import Settings


async def _transaction(request: Request) -> AsyncIterator[db.Conn]:
    async with db.transaction(request.app.state.runtime.pool) as conn:
        yield conn


async def _connection(request: Request) -> AsyncIterator[db.Conn]:
    async with request.app.state.runtime.pool.acquire() as conn:
        yield conn


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the transaction commits before the response is sent, so a 2xx means committed.
Tx = Annotated[db.Conn, Depends(_transaction, scope="function")]
# No transaction: each statement commits on its own. Only for a route whose every write is a
# single statement (or which opens a transaction around the ones that belong together): it saves
# the BEGIN and COMMIT round trips, two of a small command's five (docs/performance.md).
Autocommit = Annotated[db.Conn, Depends(_connection, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
