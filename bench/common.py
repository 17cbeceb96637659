"""What every benchmark shares: its command line, its own backends and services, load helpers.

Each benchmark runs as ``python -m bench.<name> [--runs N] [--quick] [--json PATH]`` and starts
its own embedded broker and PostgreSQL (nothing left over from another run can skew it), the
Onramp services it measures as real processes, and its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from onramp.backends import create_topics, free_port, start_broker, start_postgres
from onramp.devstack import ServiceProcess, migrate, service_env, stop_all
from shared.auth import issue_dev_token
from shared.events import new_event, to_record, topics
from shared.events.models import CohortSpec, RolloutCreated, StaffUpserted, StagePlan

SECRET = "onramp-bench-secret-of-at-least-32-bytes"
ROLLOUT = "bench-rollout"


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark has; each adds its own sizes."""
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    p.add_argument("--runs", type=int, default=3, help="runs of Onramp and baseline, interleaved")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the bench works")
    p.add_argument("--json", type=Path, default=None, help="where to write the result")
    return p


def command(name: str, argv: Sequence[str]) -> str:
    return " ".join(["python -m", f"bench.{name}", *argv])


def percentile(values: Iterable[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def token(sub: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(SECRET, sub, list(roles))}"}


async def publish(bootstrap: str, events: Sequence[tuple[str, str, BaseModel, str, str]]) -> None:
    """Publish ``(type, subject, data, topic, key)`` events as an outside system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event_type, subject, data, topic, key in events:
            event = new_event(event_type, source="/bench", subject=subject, data=data)
            record = to_record(event, topic=topic, key=key)
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


def rollout_created(rollout_id: str = ROLLOUT) -> tuple[str, str, BaseModel, str, str]:
    """What the rollout service would publish; feedback refuses feedback on unknown rollouts."""
    data = RolloutCreated(
        rollout_id=rollout_id,
        name="Benchmark",
        owner_id="bench-owner",
        stages=[StagePlan(index=0, name="Pilot", cohort=CohortSpec(department_ids=["bench"]))],
        actor="bench",
        at=datetime.now(UTC),
    )
    return ("onramp.rollout.created.v1", f"rollout/{rollout_id}", data, topics.ROLLOUT, rollout_id)


def staff_upserted(staff_id: str, role: str) -> tuple[str, str, BaseModel, str, str]:
    data = StaffUpserted(staff_id=staff_id, name=staff_id, roles=[role])
    return ("onramp.staff.upserted.v1", staff_id, data, topics.DIRECTORY, staff_id)


async def wait_accepting(
    base_url: str, headers: Mapping[str, str], body: Mapping[str, object], timeout: float = 60
) -> None:
    """Until ``POST /v1/feedback`` answers 201 (the service has seen the rollout)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, headers=dict(headers)) as client:
        while (await client.post("/v1/feedback", json=dict(body))).status_code != 201:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url} does not accept feedback")
            await asyncio.sleep(0.1)


def cpu_snapshot(pids: Iterable[int | None]) -> dict[int, float]:
    """User + system CPU seconds used so far by ``pids`` and their children (PostgreSQL's
    backends), by process.

    CPU time per request or event is the figure the machine's other load disturbs least: a
    process waiting for a core is slower, but it does not use more CPU.
    """
    found: dict[int, float] = {}
    for pid in pids:
        if pid is None:
            continue
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            found[process.pid] = float(times.user + times.system)
    return found


def own_cpu() -> float:
    """User + system CPU seconds this process (the load generator) used so far, children not
    included: on two cores, what the client uses is taken from the system under test."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU seconds ``pids`` (and their children) use from now on: a child that started since
    counts in full, one that ended since is left out (its time is gone with it)."""

    def __init__(self, pids: Iterable[int | None]) -> None:
        self.pids = list(pids)
        self.before = cpu_snapshot(self.pids)

    def used(self) -> float:
        after = cpu_snapshot(self.pids)
        return sum(max(0.0, t - self.before.get(pid, 0.0)) for pid, t in after.items())


@dataclass
class Backends:
    folder: Path
    bootstrap: str
    database_url: str
    env: dict[str, str]
    broker_pid: int | None = None
    postgres_pid: int | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def start_services(self, names: Sequence[str], env: Mapping[str, str] = {}) -> None:
        merged = {**self.env, **env}
        for name in names:
            await migrate(name, merged)
        for name in names:
            self.services[name] = ServiceProcess(
                name, free_port(), merged, log_path=self.folder / f"{name}.log"
            ).start()
        await asyncio.gather(*(self.services[n].wait_ready() for n in names))

    def start_baseline(self, port: int, name: str = "baseline") -> subprocess.Popen[bytes]:
        """``bench.feedback_baseline`` under uvicorn, as the services run (one process)."""
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.feedback_baseline:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env = {**os.environ, "BENCH_DATABASE_URL": self.database_url}
        with (self.folder / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, process_group=0)
        self.extra.append(process)
        return process


@asynccontextmanager
async def backends(name: str, env: Mapping[str, str] = {}) -> AsyncIterator[Backends]:
    """A broker, a database and the topics of one benchmark; everything stops on the way out."""
    folder = Path(tempfile.mkdtemp(prefix=f"onramp-bench-{name}-"))
    broker = start_broker(free_port(), log_path=folder / "broker.log")
    postgres = None
    found: Backends | None = None
    try:
        postgres = start_postgres(folder / "pgdata")
        await create_topics(broker.bootstrap)
        found = Backends(
            folder,
            broker.bootstrap,
            postgres.url,
            {**service_env(broker.bootstrap, postgres.url, SECRET), **env},
            broker_pid=broker.pid,
            postgres_pid=postgres.pid,
        )
        yield found
    finally:
        if found is not None:
            stop_all(found.services.values())
            for process in found.extra:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        broker.stop()
        if postgres is not None:
            postgres.stop()


async def wait_http(base_url: str, path: str = "/health", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url}{path} does not answer")
            await asyncio.sleep(0.1)


async def at_fixed_rate(
    rate: float, seconds: float, send: Callable[[int, float], Coroutine[Any, Any, None]]
) -> int:
    """Call ``send(n, scheduled_at)`` ``rate`` times a second for ``seconds``, open loop.

    Each call starts on its own schedule (``perf_counter`` time), whether or not the previous
    ones have finished, so a slow answer does not slow the offered load down. Returns how many
    were sent.
    """
    count = round(rate * seconds)
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for n in range(count):
        scheduled = started + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    await asyncio.gather(*tasks)
    return count


def interleave(runs: int, names: Sequence[str]) -> list[tuple[int, str]]:
    """``(run, name)`` pairs: every target once per run, the order alternating between runs."""
    order: list[tuple[int, str]] = []
    for run in range(runs):
        turn = list(names) if run % 2 == 0 else list(reversed(names))
        order += [(run, name) for name in turn]
    return order


def load_average() -> float:
    return round(os.getloadavg()[0], 2)
