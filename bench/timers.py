"""Escalation timer lateness with 10,000 open cases, against a bare ``SKIP LOCKED`` poller.

On an embedded PostgreSQL of its own (no broker: notify's outbox just fills). Onramp: ``--cases``
escalation cases are opened through notify's own consumer handler (an urgent issue each); the
next level of each (paging the admins) is then made to come due, spread evenly over
``--window`` seconds, and ``shared.scheduler.Scheduler`` with notify's timer handlers (the
service's configuration, one instance) fires them. Lateness = paged at - due at, from the case
log; fire rate = timers fired / (last fired - first due).

Baseline, in the same run: a table of the same number of timers with the same due times, and
a bare asyncpg loop that claims the earliest due row with ``FOR UPDATE SKIP LOCKED``, deletes it
and does no other work, one timer per transaction, sleeping until the next due time (at most
the scheduler's poll interval) when none is due — the scheduler's algorithm without Onramp.

    .venv/bin/python -m bench.timers [--cases 10000] [--window 20] [--runs 3] [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench import common
from bench.report import Metric, Result, emit
from services.notify import agents
from services.notify.domain.escalation import Level, Policy
from services.notify.repository import cases as case_repo
from services.notify.settings import Deps, NotifySettings, build_deps, utc_now
from shared import db, migrations
from shared.events import TOPIC_OF
from shared.logs import configure_logging
from shared.scheduler import Scheduler
from shared.settings import Settings
from tests.integration.notify import builders as b

NAME = "timers"
FOLDER = Path(__file__).resolve().parents[1] / "services" / "notify" / "migrations"
DELAY = timedelta(minutes=10)
LEAD_S = 3.0  # the first timer comes due this long after the scheduler starts
POLL_INTERVAL_S = Settings().scheduler_poll_interval_s
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Run:
    lateness_s: list[float]
    fire_rate: float  # timers per second, first due → last fired
    seconds: float
    load_average: float

    def ms(self, share: float) -> float:
        return round(common.percentile(self.lateness_s, share) * 1000, 2)


def _run(late: list[float], fired_at: list[float], first_due: float, load: float) -> Run:
    span = max(fired_at) - first_due
    return Run(late, round(len(late) / span, 1), round(span, 2), load)


async def _consume(pool: db.Pool, deps: Deps, event: Any) -> None:
    handler = agents.subscriptions(deps)[TOPIC_OF[event.type]][event.type]
    async with db.transaction(pool) as conn:
        await handler(conn, event)


async def onramp_run(url: str, cases: int, window_s: float) -> tuple[Run, float]:
    """One run on a fresh schema; also returns how fast the cases opened (cases/s)."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    await migrations.apply(url, schema, FOLDER)
    pool = await db.create_pool(url, schema, max_size=6)
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
        opened_per_s = cases / (time.perf_counter() - opening)
        start = datetime.now(UTC) + timedelta(seconds=LEAD_S)
        step = timedelta(seconds=window_s / cases)
        # Every case is open with level 1 pending; make those levels come due over the window.
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
        open_cases = await pool.fetchval("SELECT count(*) FROM cases WHERE status = 'open'")
        if open_cases != cases:
            raise RuntimeError(f"{open_cases} cases open, {cases} expected")

        async def all_paged() -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM case_log WHERE action = 'paged' AND level = 1"
            )
            return bool(count == cases)

        load = common.load_average()
        scheduler = Scheduler(
            pool, agents.timers(deps), url=url, schema=schema, poll_interval_s=POLL_INTERVAL_S
        )
        await _until(scheduler.run(), all_paged)
        await scheduler.close()
        rows = await pool.fetch(
            """SELECT extract(epoch FROM at - due_at) AS late, extract(epoch FROM at) AS at
               FROM case_log WHERE action = 'paged' AND level = 1"""
        )
        late = [float(r["late"]) for r in rows]
        fired = [float(r["at"]) for r in rows]
        return (
            _run(late, fired, start.timestamp(), max(load, common.load_average())),
            opened_per_s,
        )
    finally:
        await pool.close()
        await _drop_schema(url, schema)


async def _drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


async def _until(loop: Any, done: Any) -> None:
    task = asyncio.ensure_future(loop)
    started = time.monotonic()
    try:
        while not await done():
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the timer loop stopped")
            if time.monotonic() - started > TIMEOUT_S:
                raise TimeoutError("the timers did not all fire in time")
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _bare_poller(pool: asyncpg.Pool[asyncpg.Record], table: str) -> None:
    """Claim, delete and record the earliest due timer, one per transaction; no other work."""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""DELETE FROM {table} WHERE id = (
                        SELECT id FROM {table} WHERE due_at <= now()
                        ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, due_at"""
            )
            if row is not None:
                await conn.execute(
                    f"INSERT INTO {table}_fired (id, due_at) VALUES ($1, $2)",
                    row["id"],
                    row["due_at"],
                )
                continue
            due = await conn.fetchval(
                f"SELECT extract(epoch FROM min(due_at) - now()) FROM {table}"
            )
        wait = POLL_INTERVAL_S if due is None else max(0.0, min(float(due), POLL_INTERVAL_S))
        await asyncio.sleep(wait)


async def baseline_run(url: str, cases: int, window_s: float) -> Run:
    table = f"bench_timers_{uuid.uuid4().hex[:8]}"
    pool: asyncpg.Pool[asyncpg.Record] = await asyncpg.create_pool(url, min_size=1, max_size=6)
    try:
        await pool.execute(
            f"""CREATE TABLE {table} (id bigserial PRIMARY KEY, due_at timestamptz NOT NULL);
                CREATE INDEX ON {table} (due_at);
                CREATE TABLE {table}_fired (
                    id bigint PRIMARY KEY,
                    due_at timestamptz NOT NULL,
                    fired_at timestamptz NOT NULL DEFAULT clock_timestamp())"""
        )
        start = datetime.now(UTC) + timedelta(seconds=LEAD_S)
        await pool.execute(
            f"""INSERT INTO {table} (due_at)
                SELECT $1::timestamptz + i * $2::interval FROM generate_series(0, $3 - 1) i""",
            start,
            timedelta(seconds=window_s / cases),
            cases,
        )
        load = common.load_average()

        async def all_fired() -> bool:
            return bool(await pool.fetchval(f"SELECT count(*) FROM {table}_fired") == cases)

        await _until(_bare_poller(pool, table), all_fired)
        rows = await pool.fetch(
            f"""SELECT extract(epoch FROM fired_at - due_at) AS late,
                       extract(epoch FROM fired_at) AS at FROM {table}_fired"""
        )
        return _run(
            [float(r["late"]) for r in rows],
            [float(r["at"]) for r in rows],
            start.timestamp(),
            max(load, common.load_average()),
        )
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}, {table}_fired")
        await pool.close()


async def measure(
    cases: int, window_s: float, runs: int
) -> tuple[dict[str, list[Run]], list[float]]:
    results: dict[str, list[Run]] = {"onramp": [], "baseline": []}
    opening: list[float] = []
    async with common.backends(NAME) as be:
        for n, target in common.interleave(runs, ("onramp", "baseline")):
            if target == "onramp":
                found, opened = await onramp_run(be.database_url, cases, window_s)
                opening.append(round(opened, 1))
            else:
                found = await baseline_run(be.database_url, cases, window_s)
            results[target].append(found)
            print(
                f"run {n + 1} {target:8} lateness p50 {found.ms(0.5):8.1f} ms  "
                f"p99 {found.ms(0.99):8.1f} ms  {found.fire_rate:8.1f} timers/s  "
                f"load {found.load_average}",
                flush=True,
            )
    return results, opening


def result(
    argv: Sequence[str],
    cases: int,
    window_s: float,
    found: dict[str, list[Run]],
    opening: list[float],
) -> Result:
    onramp, baseline = found["onramp"], found["baseline"]
    offered = cases / window_s
    return Result(
        bench=NAME,
        title=f"Escalation timers: {cases:,} open cases, levels due over {window_s:g} s",
        command=common.command(NAME, argv),
        baseline="bare asyncpg poller: same due times, FOR UPDATE SKIP LOCKED, no work",
        metrics=[
            Metric(
                "lateness p50 ms", [r.ms(0.5) for r in onramp], [r.ms(0.5) for r in baseline], False
            ),
            Metric(
                "lateness p99 ms",
                [r.ms(0.99) for r in onramp],
                [r.ms(0.99) for r in baseline],
                False,
            ),
            Metric(
                "timers/s",
                [r.fire_rate for r in onramp],
                [r.fire_rate for r in baseline],
                True,
            ),
        ],
        details={
            "cases": cases,
            "window_s": window_s,
            "offered_timers_per_s": round(offered, 1),
            "scheduler_poll_interval_s": POLL_INTERVAL_S,
            "cases_opened_per_s": opening,
            "all_fired_after_s": {
                "onramp": [r.seconds for r in onramp],
                "baseline": [r.seconds for r in baseline],
            },
            "load_average": {
                "onramp": [r.load_average for r in onramp],
                "baseline": [r.load_average for r in baseline],
            },
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(NAME, __doc__ or "")
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--window", type=float, default=20.0, help="s over which levels come due")
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(args_list)
    if args.quick:
        args.cases, args.window, args.runs = min(args.cases, 100), 1.0, 1
    configure_logging("WARNING")
    found, opening = asyncio.run(measure(args.cases, args.window, args.runs))
    emit(result(args_list, args.cases, args.window, found, opening), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
