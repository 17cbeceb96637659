"""Notify under load, on an embedded PostgreSQL of its own (no broker: the outbox just fills).

1. Lateness of escalation levels with 10,000 open cases: every case is open, and its next level
   comes due either spread over a window (a steady rate) or all at the same instant (a burst);
   one scheduler pages them, or ``--instances`` schedulers as that many service instances would
   (here in one process). Lateness = paged at - due at, from the case log.
2. A stage advanced for a cohort of 10,000: the consumer's transaction (render in each person's
   language, inbox rows, ``notification.sent`` outbox rows, email deliveries queued), then the
   delivery timers mailing all of them to a local SMTP server (in this process, too).

    .venv/bin/python -m tests.integration.notify.bench_notify \
        [--cases 10000] [--recipients 10000] [--window 600] [--instances 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from onramp.backends import start_postgres
from services.notify import agents
from services.notify.domain.escalation import Level, Policy
from services.notify.repository import cases as case_repo
from services.notify.repository import directory
from services.notify.settings import Deps, NotifySettings, build_deps, utc_now
from shared import db, migrations
from shared.events import TOPIC_OF
from shared.logs import configure_logging
from shared.scheduler import Scheduler
from tests.integration.notify import builders as b
from tests.support.smtp import SmtpSink

FOLDER = Path(__file__).resolve().parents[3] / "services" / "notify" / "migrations"
DELAY = timedelta(minutes=10)


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


async def _schema(url: str, max_size: int = 10) -> tuple[db.Pool, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await migrations.apply(url, name, FOLDER)
    return await db.create_pool(url, name, max_size=max_size), name


async def _consume(pool: db.Pool, deps: Deps, event: Any) -> None:
    handler = agents.subscriptions(deps)[TOPIC_OF[event.type]][event.type]
    async with db.transaction(pool) as conn:
        await handler(conn, event)


async def _run_schedulers(
    url: str, pool: db.Pool, schema: str, deps: Deps, done: Any, timeout: float, instances: int
) -> float:
    """``instances`` schedulers (as many service instances would run) until ``done()``."""
    schedulers = [
        Scheduler(pool, agents.timers(deps), url=url, schema=schema, poll_interval_s=1.0)
        for _ in range(instances)
    ]
    tasks = [asyncio.create_task(s.run()) for s in schedulers]
    started = time.perf_counter()
    try:
        while not await done():
            if time.perf_counter() - started > timeout:
                raise TimeoutError("the schedulers did not finish in time")
            await asyncio.sleep(0.2)
        return time.perf_counter() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for scheduler in schedulers:
            await scheduler.close()


async def escalation_lateness(
    url: str, cases: int, window_s: float, instances: int
) -> dict[str, Any]:
    pool, schema = await _schema(url, max_size=4 + 2 * instances)
    deps = build_deps(NotifySettings(smtp_host=None), utc_now)
    try:
        now = datetime.now(UTC)
        for staff_id, role in (("it-1", "it_support"), ("it-2", "it_support"), ("adm", "admin")):
            await _consume(pool, deps, b.staff(staff_id, now, roles=[role]))
        policy = Policy(
            "urgent-issue",
            (
                Level(timedelta(0), "always", ("role:it_support",)),
                Level(DELAY, "if_not_acked", ("role:admin",)),
            ),
        )
        async with db.transaction(pool) as conn:
            await case_repo.put_policy(conn, policy, "bench", now)
        opening = time.perf_counter()
        for _ in range(cases):
            await _consume(pool, deps, b.issue("r-bench", datetime.now(UTC)))
        opened_s = time.perf_counter() - opening
        # Every case is open with level 1 pending; make those levels come due from 5 s on.
        start = datetime.now(UTC) + timedelta(seconds=5)
        step = timedelta(seconds=window_s / cases)
        await pool.execute(
            """WITH ordered AS (
                   SELECT case_id, row_number() OVER (ORDER BY opened_at, case_id) - 1 AS i
                   FROM cases)
               UPDATE cases c SET opened_at = $1::timestamptz + o.i * $2::interval - $3::interval,
                                  next_due_at = $1::timestamptz + o.i * $2::interval
               FROM ordered o WHERE o.case_id = c.case_id""",
            start,
            step,
            DELAY,
        )
        await pool.execute(
            """UPDATE timers t SET due_at = c.next_due_at FROM cases c
               WHERE t.kind = 'escalation' AND t.key = c.case_id::text"""
        )
        assert await pool.fetchval("SELECT count(*) FROM cases WHERE status = 'open'") == cases

        async def all_paged() -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM case_log WHERE action = 'paged' AND level = 1"
            )
            return bool(count == cases)

        took = await _run_schedulers(url, pool, schema, deps, all_paged, 900, instances)
        rows = await pool.fetch(
            """SELECT extract(epoch FROM at - due_at) AS late FROM case_log
               WHERE action = 'paged' AND level = 1"""
        )
        return {
            "open_cases": cases,
            "levels_due_over_s": window_s,
            "schedulers": instances,
            "all_paged_after_s": round(took, 1),
            "opening_cases_per_s": round(cases / opened_s),
            "lateness": _percentiles([float(r["late"]) for r in rows]),
        }
    finally:
        await pool.close()


async def stage_advanced_burst(
    url: str, sink: SmtpSink, recipients: int, instances: int
) -> dict[str, Any]:
    pool, schema = await _schema(url, max_size=4 + 2 * instances)
    settings = NotifySettings(smtp_host=sink.host, smtp_port=sink.port)
    deps = build_deps(settings, utc_now)
    try:
        now = datetime.now(UTC)
        members = [f"s-{n:05}" for n in range(recipients)]
        async with db.transaction(pool) as conn:
            for n, staff_id in enumerate(members):
                person = b.staff(
                    staff_id,
                    now,
                    email=f"{staff_id}@bench.example",
                    locale="zh-CN" if n % 2 else "en-GB",
                ).data.model_dump()
                await directory.upsert_staff(conn, person, now)
        await _consume(pool, deps, b.created("r-bench", "owner-1", now))
        event = b.advanced("r-bench", 0, now, current=b.stage("Everyone", members, ["crm-101"]))
        started = time.perf_counter()
        await _consume(pool, deps, event)
        consumed_s = time.perf_counter() - started
        stored = await pool.fetchval("SELECT count(*) FROM notifications")
        outbox = await pool.fetchval("SELECT count(*) FROM outbox")

        async def all_sent() -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status = 'sent'"
            )
            return bool(count >= recipients)

        mailing_s = await _run_schedulers(url, pool, schema, deps, all_sent, 1200, instances)
        return {
            "recipients": recipients,
            "inbox_notifications": stored,
            "outbox_events": outbox,
            "consumer_transaction_s": round(consumed_s, 2),
            "inbox_notifications_per_s": round(stored / consumed_s),
            "emails_sent": await pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            ),
            "schedulers": instances,
            "email_delivery_s": round(mailing_s, 1),
            "emails_per_s": round(recipients / mailing_s),
        }
    finally:
        await pool.close()


async def main(cases: int, recipients: int, window_s: float, instances: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        postgres = start_postgres(Path(folder) / "pgdata")
        sink = SmtpSink().start()
        url = postgres.url
        try:
            return {
                "escalation_steady": await escalation_lateness(url, cases, window_s, 1),
                "escalation_burst": await escalation_lateness(url, cases, 0.0, 1),
                "escalation_burst_scaled": await escalation_lateness(url, cases, 0.0, instances),
                "stage_advanced": await stage_advanced_burst(url, sink, recipients, 1),
                "stage_advanced_scaled": await stage_advanced_burst(
                    url, sink, recipients, instances
                ),
            }
        finally:
            sink.stop()
            postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=600.0, help="s over which levels come due")
    parser.add_argument("--instances", type=int, default=4, help="schedulers in the scaled runs")
    args = parser.parse_args()
    configure_logging("WARNING")
    found = asyncio.run(main(args.cases, args.recipients, args.window, args.instances))
    print(json.dumps(found, indent=2))
