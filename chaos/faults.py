"""One class per fault. ``inject`` runs while the load flows, clears the fault and returns when
it was cleared, with what it noticed on the way (``failures`` fail the trial)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from chaos.cluster import SERVICES, SESSION_TIMEOUT_S, Cluster, until
from chaos.history import History
from chaos.load import Load
from onramp.processes import ServiceProcess

SHUTDOWN_LIMIT_S = 10.0
BURST = 2000


@dataclass
class Context:
    cluster: Cluster
    history: History
    load: Load
    short: bool
    trial_no: int
    restart_observer: Callable[[], Awaitable[None]]
    stop_observer: Callable[[], Awaitable[None]]
    drain: Callable[[], Awaitable[list[str]]]


@dataclass
class Fault:
    cleared_at: float = 0.0
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def _db(cluster: Cluster) -> asyncpg.Connection[Any]:
    return await asyncpg.connect(cluster.database_url)


class Scenario:
    name = ""
    promises = ""
    summary = ""

    async def inject(self, ctx: Context) -> Fault:
        raise NotImplementedError


class Kill9(Scenario):
    name = "kill9"
    promises = "1, 2, 3"
    summary = "kill -9 of feedback, rollout and notify in turn while the load flows"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        for name in SERVICES:
            await ctx.load.wait_ticks(1 if ctx.short else 3)
            process = ctx.cluster.services[name]
            process.kill()
            process.start()
        fault.cleared_at = time.monotonic()
        return fault


class Kill9MidBatch(Scenario):
    name = "kill9-mid-batch"
    promises = "2, 3"
    summary = "a burst of 2,000 records; rollout and notify killed while part of it is applied"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        burst = [ctx.load.send_training() for _ in range(BURST)]
        ids = [i.event_id for i in burst]
        conn = await _db(ctx.cluster)
        try:

            async def partly_applied() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM rollout.inbox WHERE event_id = ANY($1)", ids
                )
                return bool(n >= 1)

            await until(partly_applied, 60, "the burst partly applied", interval=0.005)
            applied = await conn.fetchval(
                "SELECT count(*) FROM rollout.inbox WHERE event_id = ANY($1)", ids
            )
        finally:
            await conn.close()
        for name in ("rollout", "notify"):
            ctx.cluster.services[name].kill()
        fault.notes.append(f"killed with {applied}/{BURST} of the burst applied in rollout")
        for name in ("rollout", "notify"):
            ctx.cluster.services[name].start()
        fault.cleared_at = time.monotonic()
        return fault


class Kill9BetweenCommitAndPublish(Scenario):
    name = "kill9-outbox"
    promises = "1, 7"
    summary = (
        "broker frozen (SIGSTOP); commands commit to the outbox; feedback and rollout killed; "
        "broker thawed; restarted services publish what was committed"
    )

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        ctx.load.external_paused = True
        await ctx.load.external.flush()
        ctx.cluster.signal_broker(signal.SIGSTOP)
        conn = await _db(ctx.cluster)
        try:

            async def unsent() -> int:
                n = await conn.fetchval("SELECT count(*) FROM feedback.outbox")
                return int(n)

            await until(lambda: _true_async(unsent, 5), 60, "5 committed, unpublished events")
            for name in ("feedback", "rollout"):
                ctx.cluster.services[name].kill()
            waiting = await unsent()
            fault.notes.append(f"{waiting} committed feedback events unpublished at the kill")
            ctx.cluster.signal_broker(signal.SIGCONT)
            fault.cleared_at = time.monotonic()
            for name in ("feedback", "rollout"):
                ctx.cluster.services[name].start()
            ctx.load.external_paused = False
            await until(lambda: _true_async(unsent, 0, at_most=True), 120, "the outbox drained")
        finally:
            await conn.close()
        return fault


async def _true_async(count: Callable[[], Awaitable[int]], n: int, at_most: bool = False) -> bool:
    """Whether ``count()`` is at least ``n`` (at most, with ``at_most``)."""
    value = await count()
    return value <= n if at_most else value >= n


class SigStop(Scenario):
    name = "sigstop"
    promises = "2, 3"
    summary = "a service frozen (SIGSTOP) past the consumer session timeout, then thawed"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        name = ("notify", "rollout", "feedback")[ctx.trial_no % 3]
        process = ctx.cluster.services[name]
        await ctx.load.wait_ticks(3)
        process.signal(signal.SIGSTOP)
        frozen = SESSION_TIMEOUT_S + 2.0
        fault.notes.append(f"{name} frozen {frozen:g} s (session timeout {SESSION_TIMEOUT_S:g} s)")
        await asyncio.sleep(frozen)  # the fault's length, not a wait for a condition
        process.signal(signal.SIGCONT)
        fault.cleared_at = time.monotonic()
        return fault


class Rebalance(Scenario):
    name = "rebalance"
    promises = "2, 3, 4"
    summary = "a second instance of a service joins its consumer group, works, then leaves"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        name = ("rollout", "notify", "feedback")[ctx.trial_no % 3]
        second = ctx.cluster.second_instance(name)
        await second.wait_ready()
        await ctx.load.wait_ticks(6)
        code = await asyncio.to_thread(second.terminate)
        ctx.cluster.extra.remove(second)
        fault.notes.append(f"second {name} joined and left (exit code {code})")
        fault.cleared_at = time.monotonic()
        return fault


class PostgresOutage(Scenario):
    name = "postgres-outage"
    promises = "6"
    summary = "PostgreSQL stopped (30 s; 5 s in the short suite); readiness must say so"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        postgres = ctx.cluster.postgres
        assert postgres is not None
        outage = 5.0 if ctx.short else 30.0
        await ctx.load.wait_ticks(3)
        started = time.monotonic()
        await asyncio.to_thread(postgres.stop)
        unready: set[str] = set()

        async def all_report_it() -> bool:
            for name, process in ctx.cluster.services.items():
                code, body = await ctx.cluster.ready(process)
                if code == 503 and "database" in body and "unavailable" in body:
                    unready.add(name)
            return len(unready) == len(SERVICES)

        try:
            await until(all_report_it, outage, "every service reporting the database down")
        except TimeoutError:
            fault.failures.append(f"readiness reported the outage only in {sorted(unready)}")
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - started)))  # the outage
        await asyncio.to_thread(postgres.start)
        fault.cleared_at = time.monotonic()
        fault.notes.append(f"PostgreSQL down {fault.cleared_at - started:.1f} s")
        return fault


class BrokerRestart(Scenario):
    name = "broker-restart"
    promises = "7"
    summary = (
        "drain, stop the broker (memory storage: it comes back empty), keep sending commands, "
        "restart it, recreate the topics; the outbox publishes what it buffered"
    )

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        broker = ctx.cluster.broker
        assert broker is not None
        load = ctx.load
        # Quiescence first: what the memory broker holds unconsumed would die with it.
        load.external_paused = load.http_paused = True
        await load.external.flush()
        behind = await ctx.drain()
        if behind:
            fault.failures.append(f"not quiescent before the stop: {behind[:3]}")
        await asyncio.to_thread(broker.kill)
        await ctx.stop_observer()  # it saw everything the old broker had (drained above)
        failures_before = load.http_failures
        accepted_before = _accepted(ctx.history, load.trial)
        load.http_paused = False
        outage = 3.0 if ctx.short else 10.0
        await load.wait_ticks(max(2, int(outage / load.tick_s)))
        accepted = _accepted(ctx.history, load.trial) - accepted_before
        failed = load.http_failures - failures_before
        fault.notes.append(f"{accepted} commands accepted while the broker was down")
        if failed:
            fault.failures.append(f"{failed} HTTP commands failed while the broker was down")
        if accepted == 0:
            fault.failures.append("no command was accepted while the broker was down")
        await ctx.cluster.restart_broker()
        fault.cleared_at = time.monotonic()
        await ctx.restart_observer()
        load.external_paused = False
        return fault


def _accepted(history: History, trial: str) -> int:
    return sum(
        1 for i in history.of(trial) if i.accepted and i.kind in ("issue", "comment", "advance")
    )


class SigTerm(Scenario):
    name = "sigterm"
    promises = "8"
    summary = "SIGTERM to every service under load: each must exit within 10 s, losing nothing"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        await ctx.load.wait_ticks(3)
        processes = list(ctx.cluster.services.values())
        stopped_before = {p.name: _stopped_lines(p) for p in processes}
        began = time.monotonic()
        for process in processes:
            process.signal(signal.SIGTERM)
        took: dict[str, float] = {}
        for process in processes:
            left = SHUTDOWN_LIMIT_S + 5 - (time.monotonic() - began)
            code = await asyncio.to_thread(process.wait, left)
            took[process.name] = time.monotonic() - began
            if code is None:
                fault.failures.append(f"{process.name} still running {took[process.name]:.1f} s")
                process.kill()
            elif took[process.name] > SHUTDOWN_LIMIT_S:
                fault.failures.append(f"{process.name} took {took[process.name]:.1f} s to stop")
            elif _stopped_lines(process) <= stopped_before[process.name]:
                fault.failures.append(f"{process.name} exited ({code}) without a clean stop")
        fault.notes.append("stopped in " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
        for process in processes:
            process.start()
        fault.cleared_at = time.monotonic()
        return fault


def _stopped_lines(process: ServiceProcess) -> int:
    """How often the service logged its clean stop (uvicorn re-raises SIGTERM after a graceful
    shutdown, so the exit code alone cannot tell a clean stop from a killed process)."""
    if process.log_path is None or not process.log_path.exists():
        return 0
    return process.log_path.read_text(errors="replace").count('"service.stopped"')
