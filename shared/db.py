"""PostgreSQL access: one pool per process, bound to the service's own schema."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.logs import get_logger

if TYPE_CHECKING:
    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # the stubs' generics do not exist at run time
    Conn = PoolConnectionProxy
    Pool = asyncpg.Pool

log = get_logger("onramp.db")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Errors after which the same work may succeed if tried again: the database went away, was
# restarting, or a concurrent transaction won a race.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a valid schema name: {schema!r}")
    return schema


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(
            pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def connect(url: str, schema: str) -> asyncpg.Connection[asyncpg.Record]:
    """A single connection outside the pool (LISTEN, migrations)."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        url, server_settings={"search_path": check_schema_name(schema)}
    )
    await _init_connection(conn)
    return conn


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a released pool connection needs beyond asyncpg's own clean-up: nothing.

    asyncpg rolls back a transaction left open and drops listeners itself; its default reset
    then sends ``RESET ALL; UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()`` — one more
    round trip for every request, consumed record and timer. Onramp leaves no session state on
    pool connections (settings and advisory locks are per transaction, LISTEN has connections of
    its own, cursors close with their transaction), so there is nothing for it to undo.
    """


async def create_pool(
    url: str, schema: str, *, min_size: int = 1, max_size: int = 20, notify_outbox: bool = True
) -> Pool:
    """A pool whose connections resolve unqualified names in ``schema`` (and only there).

    ``notify_outbox=False`` is for a process that runs the schema's outbox relay itself: the rows
    its connections stage wake that relay in the process (``shared.outbox``) instead of through
    a NOTIFY (plumbing migration 0004).
    """
    settings = {"search_path": check_schema_name(schema)}
    if not notify_outbox:
        settings["onramp.outbox_notify"] = "off"
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings=settings,
        init=_init_connection,
        reset=_keep_session,
    )
    return pool


# What to do once the transaction that transaction() or atomic() opened on a connection commits,
# by connection (its id: the entry lives exactly as long as that transaction).
_commit_hooks: dict[int, list[Callable[[], None]]] = {}


def after_commit(conn: Conn, hook: Callable[[], None]) -> None:
    """Call ``hook`` once what ``conn`` did so far is committed: when the transaction that
    :func:`transaction` or :func:`atomic` opened commits (never if it rolls back), or at once if
    ``conn`` is in no transaction (its statements committed on their own). In a transaction
    opened some other way, not at all."""
    hooks = _commit_hooks.get(id(conn))
    if hooks is not None:
        hooks.append(hook)
    elif not conn.is_in_transaction():
        _run_hooks([hook])


@asynccontextmanager
async def _committing(conn: Conn) -> AsyncIterator[Conn]:
    hooks = _commit_hooks[id(conn)] = []
    try:
        async with conn.transaction():
            yield conn
    finally:
        del _commit_hooks[id(conn)]
    _run_hooks(hooks)


def _run_hooks(hooks: list[Callable[[], None]]) -> None:
    # The work is committed: a failing hook must not make its caller report a failure.
    for hook in hooks:
        try:
            hook()
        except Exception as exc:
            log.error("db.commit_hook_failed", hook=repr(hook), error=repr(exc))


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Conn]:
    """The one way the edge (a request, a consumer, a timer) opens and commits a transaction."""
    async with pool.acquire() as conn, _committing(conn):
        yield conn


@asynccontextmanager
async def atomic(conn: Conn) -> AsyncIterator[Conn]:
    """Statements that must commit together: in ``conn``'s open transaction if it has one (the
    edge's), otherwise in a transaction of their own."""
    if conn.is_in_transaction():
        yield conn
        return
    async with _committing(conn):
        yield conn
