"""Throughput and latency of ``POST /v1/feedback`` against a bare FastAPI + asyncpg baseline.

Starts its own embedded broker and PostgreSQL, the feedback service as a real process (API,
consumers, outbox relay: the production configuration, logging at INFO) and the baseline
(``bench.feedback_baseline``: one INSERT, nothing else) as a uvicorn process. Both get the same
load: N concurrent clients posting survey answers for a fixed time, three runs each, interleaved.
Reports requests per second and p50/p99 latency per run, their medians, and the ratios.

    .venv/bin/python -m bench.feedback_throughput [--clients 32] [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from onramp.backends import create_topics, free_port, start_broker, start_postgres
from onramp.devstack import ServiceProcess, migrate, service_env, stop_all
from shared.auth import issue_dev_token
from shared.events import new_event, to_record, topics
from shared.events.models import CohortSpec, RolloutCreated, StagePlan

SECRET = "onramp-bench-secret-of-at-least-32-bytes"
ROLLOUT = "bench-rollout"
WARM_UP_S = 2.0


@dataclass(frozen=True)
class Run:
    target: str
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    load_average: float  # of the machine (1 min), the higher of before and after the run
    outbox_unsent: int | None = None  # feedback only: events not yet published when the run ended


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


Headers = Callable[[int], dict[str, str]]


async def load(base_url: str, headers: Headers, clients: int, seconds: float) -> Run | None:
    """``clients`` workers post survey answers back to back for ``seconds``.

    Each worker has its own HTTP client and connects (one request, not counted) before the
    clock starts, so the figures are of a steady keep-alive load: with one shared httpx client,
    or with connection setup inside the window, the measurement measures the client.
    """
    latencies: list[float] = []
    errors = 0
    connected = asyncio.Barrier(clients + 1)
    go = asyncio.Event()
    deadline = 0.0

    async def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=base_url, headers=headers(n), timeout=30) as client:
            await client.post("/v1/feedback", json=_answer(rng))
            await connected.wait()
            await go.wait()
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/v1/feedback", json=_answer(rng))
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    workers = [asyncio.create_task(worker(n)) for n in range(clients)]
    await connected.wait()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    deadline = started + seconds
    go.set()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    if not latencies:
        return None
    ordered = sorted(latencies)
    return Run(
        target=base_url,
        requests=len(ordered),
        errors=errors,
        seconds=round(elapsed, 2),
        req_per_s=round(len(ordered) / elapsed, 1),
        p50_ms=round(_percentile(ordered, 0.50) * 1000, 2),
        p99_ms=round(_percentile(ordered, 0.99) * 1000, 2),
        load_average=round(max(load_before, os.getloadavg()[0]), 2),
    )


def _answer(rng: random.Random) -> dict[str, Any]:
    return {"rollout_id": ROLLOUT, "kind": "survey", "csat": rng.randint(1, 5)}


async def announce_rollout(bootstrap: str) -> None:
    """What the rollout service would publish; the feedback service refuses unknown rollouts."""
    data = RolloutCreated(
        rollout_id=ROLLOUT,
        name="Benchmark",
        owner_id="bench",
        stages=[StagePlan(index=0, name="Pilot", cohort=CohortSpec(department_ids=["bench"]))],
        actor="bench",
        at=datetime.now(UTC),
    )
    event = new_event(
        "onramp.rollout.created.v1", source="/bench", subject=f"rollout/{ROLLOUT}", data=data
    )
    record = to_record(event, topic=topics.ROLLOUT, key=ROLLOUT)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()


async def wait_accepting(base_url: str, headers: dict[str, str], timeout: float = 30) -> None:
    body = {"rollout_id": ROLLOUT, "kind": "survey", "csat": 3}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        while (await client.post("/v1/feedback", json=body)).status_code != 201:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url} does not accept feedback")
            await asyncio.sleep(0.1)


def start_baseline(port: int, database_url: str, log: Path) -> subprocess.Popen[bytes]:
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
    env = {**os.environ, "BENCH_DATABASE_URL": database_url}
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=out, process_group=0)


async def outbox_unsent(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        unsent: int = await conn.fetchval(
            "SELECT count(*) FROM feedback.outbox WHERE sent_at IS NULL"
        )
        return unsent
    finally:
        await conn.close()


def _median(runs: list[Run]) -> dict[str, float]:
    return {
        field: statistics.median(getattr(r, field) for r in runs)
        for field in ("req_per_s", "p50_ms", "p99_ms")
    }


Targets = dict[str, tuple[str, Headers]]


async def interleaved(
    targets: Targets, args: argparse.Namespace, database_url: str
) -> dict[str, list[Run]]:
    """A warm-up each, then ``args.runs`` rounds of one run per target, in turn."""
    for url, headers in targets.values():
        await load(url, headers, args.clients, WARM_UP_S)
    results: dict[str, list[Run]] = {name: [] for name in targets}
    for _ in range(args.runs):
        for name, (url, headers) in targets.items():
            run = await load(url, headers, args.clients, args.seconds)
            assert run is not None, f"{name}: no request succeeded"
            if name == "feedback":
                run = replace(run, outbox_unsent=await outbox_unsent(database_url))
            results[name].append(run)
            print(
                f"{name:9} {run.req_per_s:8.1f} req/s  p50 {run.p50_ms:7.2f} ms  "
                f"p99 {run.p99_ms:7.2f} ms  errors {run.errors}  load {run.load_average}"
                + (f"  outbox unsent {run.outbox_unsent}" if name == "feedback" else ""),
                flush=True,
            )
    return results


async def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    broker = start_broker(free_port(), log_path=folder / "broker.log")
    postgres = start_postgres(folder / "pgdata")
    env = {
        **service_env(broker.bootstrap, postgres.url, SECRET),
        "ONRAMP_FEEDBACK_RATE_LIMIT": "1000000000",  # the bench posts far above a person's rate
    }
    feedback = ServiceProcess("feedback", free_port(), env, log_path=folder / "feedback.log")
    baseline_port = free_port()
    baseline: subprocess.Popen[bytes] | None = None
    try:
        await create_topics(broker.bootstrap)
        await migrate("feedback", env)
        feedback.start()
        baseline = start_baseline(baseline_port, postgres.url, folder / "baseline.log")
        await feedback.wait_ready()
        tokens = [issue_dev_token(SECRET, f"bench-{n}", ["staff"]) for n in range(args.clients)]
        await announce_rollout(broker.bootstrap)
        await wait_accepting(feedback.base_url, {"Authorization": f"Bearer {tokens[0]}"})
        baseline_url = f"http://127.0.0.1:{baseline_port}"
        await wait_accepting(baseline_url, {})

        targets: Targets = {
            "baseline": (baseline_url, lambda n: {}),
            "feedback": (feedback.base_url, lambda n: {"Authorization": f"Bearer {tokens[n]}"}),
        }
        results = await interleaved(targets, args, postgres.url)
    finally:
        stop_all([feedback])
        if baseline is not None:
            baseline.terminate()
            baseline.wait(10)
        broker.stop()
        postgres.stop()
    medians = {name: _median(runs) for name, runs in results.items()}
    return {
        "command": "python -m bench.feedback_throughput " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load": {"clients": args.clients, "seconds": args.seconds, "runs": args.runs},
        "runs": {name: [asdict(r) for r in runs] for name, runs in results.items()},
        "median": medians,
        "feedback_vs_baseline": {
            "throughput": round(
                medians["feedback"]["req_per_s"] / medians["baseline"]["req_per_s"], 3
            ),
            "p99": round(medians["feedback"]["p99_ms"] / medians["baseline"]["p99_ms"], 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback_throughput")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="onramp-bench-feedback-"))
    report = asyncio.run(measure(args, folder))
    print(json.dumps(report, indent=2))
    results = Path("bench/results")
    results.mkdir(parents=True, exist_ok=True)
    (results / "feedback_throughput.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
