"""Process wiring written once: each service's ``__main__`` hands over a :class:`ServiceSpec`.

One process runs, by role, the HTTP API, the consumers (faust agents), the outbox relay and the
durable scheduler, and shuts them down in the reverse order on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import db, housekeeping, http, migrations
from shared.auth import TokenVerifier
from shared.batch_consumer import BatchConsumer
from shared.consumer import Handler, RecordProcessor, RetryPolicy
from shared.kafka import Publisher
from shared.logs import configure_logging, get_logger
from shared.outbox import OutboxRelay
from shared.scheduler import Scheduler, TimerHandler
from shared.settings import Settings

if TYPE_CHECKING:  # faust is imported only by a service that runs a topic on it
    from shared.streams import StreamApp

log = get_logger("onramp.service")


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # also the database schema and the consumer-group suffix
    title: str
    router: APIRouter
    migrations: Path
    subscriptions: Mapping[str, Mapping[str, Handler]] = field(default_factory=dict)
    timers: Mapping[str, TimerHandler] = field(default_factory=dict)
    pages: APIRouter | None = None  # HTML pages, mounted at the root instead of under /v1

    def port(self, settings: Settings) -> int:
        port: int = getattr(settings, f"{self.name}_port")
        return port


@dataclass
class Runtime:
    """What the lifespan builds; routes reach it through ``request.app.state.runtime``."""

    spec: ServiceSpec
    settings: Settings
    pool: db.Pool
    publisher: Publisher
    stream_app: StreamApp | None = None
    batch_consumer: BatchConsumer | None = None
    relay: OutboxRelay | None = None
    processors: list[RecordProcessor] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def runs_workers(self) -> bool:
        return self.settings.role in ("all", "worker")


def _database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise SystemExit("ONRAMP_DATABASE_URL is not set (make run sets it for you)")
    return settings.database_url


async def _start_workers(rt: Runtime, url: str) -> None:
    spec, settings = rt.spec, rt.settings
    relay = OutboxRelay(
        rt.pool,
        rt.publisher,
        url=url,
        schema=spec.name,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    scheduler = Scheduler(
        rt.pool,
        spec.timers,
        url=url,
        schema=spec.name,
        poll_interval_s=settings.scheduler_poll_interval_s,
    )
    rt.relay = relay
    rt.tasks += [
        asyncio.create_task(relay.run()),
        asyncio.create_task(scheduler.run()),
        asyncio.create_task(housekeeping.run(rt.pool)),
    ]
    rt.closers += [relay.close, scheduler.close]
    if spec.subscriptions:
        await _start_consumers(rt)


async def _start_consumers(rt: Runtime) -> None:
    """Topics run on plain aiokafka, except those in ``ONRAMP_KAFKA_FAUST_TOPICS``, which run as
    faust agents; both hand records to the same wrapper (docs/runtimes.md)."""
    spec, settings = rt.spec, rt.settings
    policy = RetryPolicy(
        settings.consumer_max_attempts,
        settings.consumer_backoff_initial_s,
        settings.consumer_backoff_max_s,
    )
    fast: dict[str, RecordProcessor] = {}
    for topic, handlers in spec.subscriptions.items():
        processor = RecordProcessor(
            consumer=f"{spec.name}.{topic}",
            handlers=handlers,
            pool=rt.pool,
            publisher=rt.publisher,
            policy=policy,
            max_record_bytes=settings.max_record_bytes,
        )
        rt.processors.append(processor)
        if topic not in settings.kafka_faust_topics:
            fast[topic] = processor
            continue
        from shared.streams import create_stream_app, subscribe

        if rt.stream_app is None:
            rt.stream_app = create_stream_app(spec.name, settings)
        subscribe(
            rt.stream_app,
            topic,
            processor,
            batch_size=settings.consumer_batch_size,
            batch_wait_s=settings.consumer_batch_wait_ms / 1000,
        )
    if fast:
        rt.batch_consumer = BatchConsumer(
            group_id=f"onramp-{spec.name}", processors=fast, settings=settings
        )
        await rt.batch_consumer.start()
    if rt.stream_app is not None:
        from shared.streams import quiet_faust_logging

        await rt.stream_app.start()
        quiet_faust_logging(settings.log_level)


async def _stop(rt: Runtime) -> None:
    grace = rt.settings.shutdown_grace_s / 2
    await asyncio.gather(*(p.drain(grace) for p in rt.processors))
    if rt.batch_consumer is not None:
        await rt.batch_consumer.stop(grace / 2)
    if rt.stream_app is not None:
        await rt.stream_app.stop()
    for task in rt.tasks:
        task.cancel()
    for task in rt.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for close in rt.closers:
        await close()
    await rt.publisher.stop()
    await rt.pool.close()


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json=settings.log_json)
        url = _database_url(settings)
        if settings.migrate_on_start:
            await migrations.apply(url, spec.name, spec.migrations)
        # A process with a relay wakes it itself when a commit staged an outbox row.
        relays = settings.role in ("all", "worker")
        pool = await db.create_pool(
            url, spec.name, max_size=settings.database_pool_size, notify_outbox=not relays
        )
        rt = Runtime(spec, settings, pool, Publisher(settings, client_id=f"onramp-{spec.name}"))
        app.state.runtime = rt
        try:
            if rt.runs_workers:
                await _start_workers(rt, url)
            log.info("service.started", service=spec.name, role=settings.role)
            yield
        finally:
            await _stop(rt)
            log.info("service.stopped", service=spec.name)

    # Onramp exports Prometheus metrics and JSON logs; FastAPI's own OpenTelemetry stays off
    # (with it on, every request asks OpenTelemetry whether anything is configured).
    no_telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(title=spec.title, version="1.0", lifespan=lifespan, telemetry=no_telemetry)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    http.install(app, max_body_bytes=settings.max_body_bytes)
    app.include_router(_operations_router())
    app.include_router(spec.router, prefix="/v1")
    if spec.pages is not None:
        app.include_router(spec.pages)
    return app


def _operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> Response:
        checks = await readiness(request.app.state.runtime)
        ok = all(c == "ok" for c in checks.values())
        checks["kafka"] = kafka_status(request.app.state.runtime)
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def readiness(rt: Runtime) -> dict[str, str]:
    """Database, migrations and (for workers) the consumer group decide readiness.

    Kafka's state is reported but does not make the instance unready: a broker outage must not
    take the APIs down, the outbox buffers until the broker is back (DESIGN §8.7).
    """
    checks: dict[str, str] = {}
    try:
        async with rt.pool.acquire(timeout=2) as conn:
            missing = await migrations.pending(conn, rt.spec.migrations)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not missing else f"pending: {', '.join(missing)}"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    runtimes = [r for r in (rt.stream_app, rt.batch_consumer) if r is not None]
    if runtimes:
        checks["consumers"] = "ok" if all(r.assigned for r in runtimes) else "not assigned"
    return checks


def kafka_status(rt: Runtime) -> str:
    if rt.relay is None:
        return "not used by this role"
    return "ok" if rt.relay.healthy else "unreachable; outbox buffering"


def main(spec: ServiceSpec) -> None:
    """``python -m services.<name> [serve|migrate]``."""
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    if args.command == "migrate":
        applied = asyncio.run(migrations.apply(_database_url(settings), spec.name, spec.migrations))
        log.info("migrations.applied", service=spec.name, applied=applied)
        return
    app = create_app(spec, settings)
    # What the imports built lives as long as the process: out of the collector's way, the
    # cyclic collections of a busy service stop rescanning it. With the default first
    # generation (700 allocations) a busy feedback service collected once every 6 requests,
    # each time tracing what the requests in flight hold; at 20,000, once every 40, and its
    # second generation a sixth as often (docs/performance.md).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    uvicorn.run(
        app,
        host=settings.host,
        port=spec.port(settings),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )
