"""External-event ingest: training completions into the rollout service's projection.

Starts its own embedded broker and PostgreSQL and the rollout service as a real process
(``python -m services.rollout``, production settings, logging at INFO), seeds a directory and a
running rollout (so every batch asks for a re-evaluation of the active rollouts, as in
production), then per run pre-produces N ``onramp.training.completed.v1`` CloudEvents on
``onramp.training`` with an outside producer and measures how fast the projection takes them.

Baseline, in the same run on the same broker and database: a raw aiokafka consumer that decodes
and pydantic-validates the same CloudEvents and inserts each fetched batch into a plain table
with one asyncpg statement, committing offsets after each batch. Runs alternate (Onramp,
baseline, ...) and the medians are reported.

The rate of a run is measured from the moment the consumer got its partitions (Onramp: the
service's ``consumer.assigned`` log line; baseline: its rebalance listener) to the first look at
a complete table (looked at every 10 ms), so that process start and the group join (the embedded
broker holds a new group's first join for a few seconds) count for neither side. With
``ONRAMP_KAFKA_FAUST_TOPICS=onramp.training`` (faust runs the topic) the start is the first
transaction's instead, which leaves the first batch's decoding out.

    .venv/bin/python -m bench.ingest [--events N] [--runs K] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from bench.report import Metric, Result, emit
from onramp.backends import create_topic, create_topics, free_port, start_broker, start_postgres
from onramp.processes import ServiceProcess, migrate, service_env
from shared.auth import issue_dev_token
from shared.events import KafkaRecord, decode, new_event, to_record, topics
from shared.events.models import StaffUpserted, TrainingCompleted
from shared.settings import Settings

SECRET = "onramp-bench-secret-of-at-least-32-bytes"
DEPARTMENTS = ("finance", "sales", "ops", "hr", "it")
STAFF_PER_DEPARTMENT = 200
ROLLOUT = "bench-ingest"
PARTITIONS = 6
RUN_TIMEOUT_S = 600.0
POLL_S = 0.01

# (rows of the run, when the consumer got its partitions if known yet, the clock now)
Count = Callable[[], Awaitable[tuple[int, datetime | None, datetime]]]


def _staff_ids() -> list[str]:
    return [f"{dept}-{n}" for dept in DEPARTMENTS for n in range(STAFF_PER_DEPARTMENT)]


def training_records(topic: str, run: str, events: int) -> list[KafkaRecord]:
    """``events`` distinct passing completions (person and course) keyed by staff id."""
    staff = _staff_ids()
    now = datetime.now(UTC)
    records = []
    for n in range(events):
        staff_id = staff[n % len(staff)]
        data = TrainingCompleted(
            staff_id=staff_id,
            course_id=f"{run}-course-{n // len(staff)}",
            result="passed",
            completed_at=now - timedelta(seconds=n),
        )
        event = new_event(
            "onramp.training.completed.v1",
            source="/bench/lms",
            subject=f"staff/{staff_id}",
            data=data,
        )
        records.append(to_record(event, topic=topic, key=staff_id))
    return records


async def produce(bootstrap: str, records: Sequence[KafkaRecord]) -> None:
    """Queue everything, then wait until the broker has it all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Run:
    events_per_s: float
    cpu_ms_per_1k: float  # CPU time of the consuming process per 1,000 events


async def measure_until(count: Count, events: int, cpu_seconds: Callable[[], float]) -> Run:
    """From the moment the consumer got its partitions (``began``) to the first look (every
    ``POLL_S``) at a complete table, on one clock; CPU per event over the same span."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    start_cpu: float | None = None
    while True:
        seen, began, clock = await count()
        cpu = cpu_seconds()
        if began is not None and start_cpu is None:
            start_cpu = cpu
        if seen >= events and began is not None and start_cpu is not None:
            rate = events / (clock - began).total_seconds()
            return Run(rate, (cpu - start_cpu) * 1e6 / events)
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {seen} of {events} rows after {RUN_TIMEOUT_S:g} s")
        await asyncio.sleep(POLL_S)


def assigned_at(log_path: Path, offset: int, group: str) -> datetime | None:
    """When ``group`` first got its partitions, from the service's log written after ``offset``."""
    with log_path.open("rb") as log:
        log.seek(offset)
        for line in log:
            if b'"consumer.assigned"' not in line:
                continue
            entry = json.loads(line)
            if entry.get("consumer") == group:
                return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the baseline -------------------------------------------------------------------------


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, at: list[datetime]) -> None:
        self._at = at

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        if not self._at:
            self._at.append(datetime.now(UTC))


async def baseline_consume(
    bootstrap: str, url: str, topic: str, stop: asyncio.Event, assigned: list[datetime]
) -> None:
    """Raw aiokafka → decode + validate → one batched INSERT per fetch → commit offsets."""
    conn = await asyncpg.connect(url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        max_poll_records=500,
    )
    consumer.subscribe([topic], listener=_Assigned(assigned))
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            for tp, messages in batches.items():
                rows = []
                for message in messages:
                    event = decode(message.value, message.headers, max_bytes=1 << 20)
                    data = event.data
                    assert isinstance(data, TrainingCompleted)
                    rows.append((data.staff_id, data.course_id, data.completed_at))
                await conn.execute(
                    """INSERT INTO bench_baseline.completions (staff_id, course_id, completed_at)
                       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                       ON CONFLICT DO NOTHING""",
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                )
                await consumer.commit(
                    {TopicPartition(tp.topic, tp.partition): messages[-1].offset + 1}
                )
    finally:
        await consumer.stop()
        await conn.close()


async def baseline_run(bootstrap: str, url: str, events: int, run: str) -> Run:
    topic = f"bench.baseline.{run}"
    await create_topic(bootstrap, topic, partitions=PARTITIONS)
    await produce(bootstrap, training_records(topic, run, events))
    conn = await asyncpg.connect(url)
    stop = asyncio.Event()
    assigned: list[datetime] = []
    consuming = asyncio.create_task(baseline_consume(bootstrap, url, topic, stop, assigned))
    try:

        async def count() -> tuple[int, datetime | None, datetime]:
            if consuming.done():
                consuming.result()  # surface a crash instead of waiting for the deadline
            seen: int = await conn.fetchval(
                "SELECT count(*) FROM bench_baseline.completions WHERE course_id LIKE $1",
                f"{run}-%",
            )
            return seen, assigned[0] if assigned else None, datetime.now(UTC)

        return await measure_until(count, events, time.process_time)
    finally:
        stop.set()
        await consuming
        await conn.close()


# --- Onramp -------------------------------------------------------------------------------


async def onramp_run(
    service: ServiceProcess, bootstrap: str, url: str, events: int, run: str
) -> Run:
    """Stop the service, queue the run's events, start it, and time the projection."""
    service.terminate()
    await produce(bootstrap, training_records(topics.TRAINING, run, events))
    conn = await asyncpg.connect(url, server_settings={"search_path": "rollout"})
    assert service.log_path is not None
    offset = service.log_path.stat().st_size
    started = datetime.now(UTC)
    service.start()
    began: datetime | None = None
    try:

        async def count() -> tuple[int, datetime | None, datetime]:
            nonlocal began
            if not service.is_running():
                raise RuntimeError(f"the rollout service exited; see {service.log_path}")
            assert service.log_path is not None
            began = began or assigned_at(service.log_path, offset, "onramp-rollout")
            seen: int = await conn.fetchval(
                "SELECT count(*) FROM completions WHERE course_id LIKE $1", f"{run}-%"
            )
            if began is None and seen:  # faust runs the topic: from its first transaction
                began = await conn.fetchval(
                    """SELECT min(processed_at) FROM inbox
                       WHERE consumer = 'rollout.onramp.training' AND processed_at >= $1""",
                    started,
                )
            return seen, began, datetime.now(UTC)

        assert service.pid is not None
        pid = service.pid
        return await measure_until(count, events, lambda: process_cpu_seconds(pid))
    finally:
        await conn.close()


async def seed(service: ServiceProcess, bootstrap: str) -> None:
    """A directory of 1,000 people in five departments and a running two-stage rollout whose
    next stage needs a course: every completion may change its training gate."""
    records = []
    for staff_id in _staff_ids():
        department = staff_id.rsplit("-", 1)[0]
        data = StaffUpserted(
            staff_id=staff_id, name=staff_id, department_id=department, roles=["staff"]
        )
        event = new_event(
            "onramp.staff.upserted.v1", source="/bench/hr", subject=staff_id, data=data
        )
        records.append(to_record(event, topic=topics.DIRECTORY, key=staff_id))
    await produce(bootstrap, records)
    token = issue_dev_token(SECRET, "bench-admin", ["admin"])
    plan = {
        "rollout_id": ROLLOUT,
        "name": "Ingest bench",
        "system": "LMS",
        "stages": [
            {"name": "pilot", "cohort": {"department_ids": ["finance"]}},
            {
                "name": "wave",
                "cohort": {"department_ids": ["sales", "ops"]},
                "required_course_ids": ["bench-0-course-0"],
            },
        ],
    }
    async with httpx.AsyncClient(
        base_url=service.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as admin:
        created = await admin.post("/v1/rollouts", json=plan)
        if created.status_code != 201:
            raise RuntimeError(f"creating the rollout failed: {created.text}")
        deadline = time.monotonic() + 60
        while (response := await admin.post(f"/v1/rollouts/{ROLLOUT}/start")).status_code != 200:
            if time.monotonic() > deadline:  # the directory is still being projected
                raise RuntimeError(f"the rollout did not start: {response.text}")
            await asyncio.sleep(0.2)


async def measure(events: int, runs: int) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="onramp-bench-ingest-"))
    broker = start_broker(free_port(), log_path=folder / "broker.log")
    postgres = start_postgres(folder / "pgdata")
    env = service_env(broker.bootstrap, postgres.url, SECRET)
    service = ServiceProcess("rollout", free_port(), env, log_path=folder / "rollout.log")
    onramp: list[Run] = []
    baseline: list[Run] = []
    try:
        await create_topics(broker.bootstrap, partitions=PARTITIONS)
        await migrate("rollout", env)
        conn = await asyncpg.connect(postgres.url)
        await conn.execute(
            """CREATE SCHEMA bench_baseline;
               CREATE TABLE bench_baseline.completions (
                   staff_id text NOT NULL, course_id text NOT NULL,
                   completed_at timestamptz NOT NULL, PRIMARY KEY (staff_id, course_id))"""
        )
        await conn.close()
        service.start()
        await service.wait_ready()
        await seed(service, broker.bootstrap)
        for n in range(runs):
            onramp.append(
                await onramp_run(service, broker.bootstrap, postgres.url, events, f"o{n}")
            )
            _progress(n, runs, "onramp", onramp[-1])
            baseline.append(await baseline_run(broker.bootstrap, postgres.url, events, f"b{n}"))
            _progress(n, runs, "baseline", baseline[-1])
    except BaseException:
        print(f"logs and data kept in {folder}", file=sys.stderr)
        raise
    finally:
        service.terminate()
        broker.stop()
        postgres.stop()
    shutil.rmtree(folder, ignore_errors=True)  # the run's database files, once all stopped
    ratio = statistics.median(r.events_per_s for r in onramp) / statistics.median(
        r.events_per_s for r in baseline
    )
    settings = Settings(kafka_bootstrap="unused")
    return Result(
        bench="ingest",
        title="Training completions into the rollout projection",
        command=f"python -m bench.ingest --events {events} --runs {runs}",
        baseline="raw aiokafka consume → decode + validate → batched asyncpg INSERT",
        metrics=[
            Metric(
                name="events/s",
                onramp=[round(r.events_per_s, 1) for r in onramp],
                baseline=[round(r.events_per_s, 1) for r in baseline],
                higher_is_better=True,
                goal="ratio >= 0.5",
                met=ratio >= 0.5,
            ),
            Metric(
                name="CPU ms per 1k events",
                onramp=[round(r.cpu_ms_per_1k, 1) for r in onramp],
                baseline=[round(r.cpu_ms_per_1k, 1) for r in baseline],
                higher_is_better=False,
            ),
        ],
        details=_details(events, runs, settings),
    )


def _progress(n: int, runs: int, target: str, run: Run) -> None:
    print(
        f"run {n + 1}/{runs}: {target} {run.events_per_s:,.0f} events/s,"
        f" {run.cpu_ms_per_1k:,.0f} CPU ms per 1k events",
        file=sys.stderr,
        flush=True,
    )


def _details(events: int, runs: int, settings: Settings) -> dict[str, Any]:
    return {
        "events": events,
        "runs": runs,
        "partitions": PARTITIONS,
        "staff": len(_staff_ids()),
        "faust_topics": list(settings.kafka_faust_topics),
        "consumer_batch_size": settings.consumer_batch_size,
        "consumer_batch_wait_ms": settings.consumer_batch_wait_ms,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--events", type=int, default=None, help="events per run (20,000)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each side (3)")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 events, one run: checks the bench works"
    )
    parser.add_argument("--json", type=Path, default=None, help="where to write the result")
    args = parser.parse_args(argv)
    events = args.events or (5_000 if args.quick else 20_000)
    runs = args.runs or (1 if args.quick else 3)
    if events < 1 or runs < 1:
        parser.error("--events and --runs must be at least 1")
    result = asyncio.run(measure(events, runs))
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
