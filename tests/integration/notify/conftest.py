"""The notify service on a fresh schema of the real database.

Handlers are fed real events (with the inbox claim, as the consumer wrapper does), timers fire
either by a fake clock (``world.fire_due()``, the scheduler's claim with the clock as "now") or
by the real scheduler, mail goes to a real local SMTP server (aiosmtpd) and webhooks to a real
local HTTP receiver. The routes run in process over ASGI.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.notify import agents
from services.notify.api import router
from services.notify.domain.webhooks import PROVIDER_HOSTS
from services.notify.settings import Deps, NotifySettings, build_deps, process_deps
from shared import db, http, inbox
from shared.auth import TokenVerifier, issue_dev_token
from shared.events import TOPIC_OF, CloudEvent, decode
from shared.scheduler import Timer
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET, ServicePool
from tests.support.smtp import SmtpSink

T0 = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)  # a Tuesday, 09:00 UTC


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# --- a local webhook receiver -------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, body) for its path, else 200."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, path: str, *answers: tuple[int, bytes]) -> None:
        self.script[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            receiver.received.append(Received(self.path, dict(self.headers), body))
            queued = receiver.script.get(self.path) or [(200, b"ok")]
            status, answer = queued.pop(0) if len(queued) > 1 else queued[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = ThreadingHTTPServer((found.host, 0), _handler(found))
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


# --- the service ----------------------------------------------------------------------------


def notify_settings(sink: SmtpSink | None, **overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "smtp_host": sink.host if sink else None,
        "smtp_port": sink.port if sink else 25,
        "smtp_timeout_s": 5.0,
        "webhook_allowed_hosts": [*PROVIDER_HOSTS, "http://127.0.0.1"],
        "webhook_timeout_s": 5.0,
        "delivery_max_attempts": 3,
        "delivery_backoff_initial_s": 60.0,
        "delivery_backoff_max_s": 600.0,
        "delivery_shards": 2,
        "reminder_offsets": [timedelta(days=1), timedelta(days=3)],
        "reminder_max_count": 2,
        "stall_deadline": timedelta(days=2),
    }
    return NotifySettings(**(values | overrides))


@dataclass
class World:
    pool: db.Pool
    schema: str
    deps: Deps
    clock: FakeClock

    def with_settings(self, **overrides: Any) -> World:
        settings = self.deps.settings.model_copy(update=overrides)
        return World(self.pool, self.schema, build_deps(settings, self.clock), self.clock)

    async def consume(self, event: CloudEvent[Any], *, claim: bool = True) -> None:
        """Apply ``event`` as the consumer wrapper does: inbox claim and effect in one
        transaction (``claim=False`` runs the handler even for a redelivered event)."""
        topic = TOPIC_OF[event.type]
        handler = agents.subscriptions(self.deps)[topic][event.type]
        async with db.transaction(self.pool) as conn:
            if claim and not await inbox.claim(conn, f"notify.{topic}", event.source, event.id):
                return
            await handler(conn, event)

    async def fire_due(self) -> list[tuple[str, str]]:
        """Fire every timer due by the fake clock, earliest first, each in its own
        transaction, as the scheduler does with the database's clock."""
        handlers = agents.timers(self.deps)
        fired: list[tuple[str, str]] = []
        while True:
            async with db.transaction(self.pool) as conn:
                row = await conn.fetchrow(
                    """DELETE FROM timers WHERE id = (
                           SELECT id FROM timers WHERE due_at <= $1
                           ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                       RETURNING id, kind, key, due_at, payload, attempts""",
                    self.clock(),
                )
                if row is None:
                    return fired
                timer = Timer(**dict(row))
                await handlers[timer.kind](conn, timer)
            fired.append((timer.kind, timer.key))

    async def run_until(self, when: datetime) -> list[tuple[str, str]]:
        """Advance the fake clock to ``when``, firing timers on the way at their due times."""
        fired: list[tuple[str, str]] = []
        while True:
            due = await self.pool.fetchval(
                "SELECT min(due_at) FROM timers WHERE due_at <= $1", when
            )
            if due is None:
                self.clock.now = max(self.clock.now, when)
                return fired + await self.fire_due()
            self.clock.now = max(self.clock.now, due)
            fired += await self.fire_due()

    async def timers(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT kind, key, due_at, payload FROM timers ORDER BY id")
        return [dict(r) for r in rows]

    async def published(self, type_: str | None = None) -> list[CloudEvent[Any]]:
        """Events in the outbox, in commit order (optionally of one type)."""
        rows = await self.pool.fetch("SELECT value, headers FROM outbox ORDER BY id")
        found = [
            decode(r["value"], [(k, v.encode()) for k, v in r["headers"]], max_bytes=10**7)
            for r in rows
        ]
        return [e for e in found if type_ is None or e.type == type_]

    async def inbox(self, staff_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT template, subject, body, data, priority, locale, source_event_id, case_id
               FROM notifications WHERE recipient_id = $1 ORDER BY seq""",
            staff_id,
        )
        return [dict(r) for r in rows]

    async def deliveries(self, staff_id: str | None = None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT d.delivery_id, d.recipient_id, d.channel, d.status, d.attempts, d.due_at,
                      d.last_error, d.notification_id, n.template
               FROM deliveries d LEFT JOIN notifications n USING (notification_id)
               WHERE $1::text IS NULL OR d.recipient_id = $1 ORDER BY d.delivery_id""",
            staff_id,
        )
        return [dict(r) for r in rows]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def world(service_pool: ServicePool, mail_sink: SmtpSink, clock: FakeClock) -> World:
    pool = await service_pool("notify")
    schema = await pool.fetchval("SELECT current_schema()")
    return World(pool, schema, build_deps(notify_settings(mail_sink), clock), clock)


# --- the API in process -------------------------------------------------------------------

ClientFor = Callable[..., httpx.AsyncClient]


def notify_app(world: World, settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(pool=world.pool)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    http.install(app, max_body_bytes=settings.max_body_bytes)
    app.include_router(router, prefix="/v1")
    app.dependency_overrides[process_deps] = lambda: world.deps
    return app


@pytest.fixture
async def client_for(world: World, settings: Settings) -> AsyncIterator[ClientFor]:
    """``client_for(sub, *roles)``: an HTTP client with that person's token (or none)."""
    transport = httpx.ASGITransport(app=notify_app(world, settings))
    made: list[httpx.AsyncClient] = []

    def make(sub: str | None = None, *roles: str, token: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if token is not None or sub is not None:
            bearer = token or issue_dev_token(TEST_JWT_SECRET, sub or "", list(roles))
            headers["Authorization"] = f"Bearer {bearer}"
        client = httpx.AsyncClient(transport=transport, base_url="http://notify", headers=headers)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
