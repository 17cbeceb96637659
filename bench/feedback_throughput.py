"""Throughput and latency of ``POST /v1/feedback`` against a bare FastAPI + asyncpg baseline.

Starts its own embedded broker and PostgreSQL, the feedback service as a real process (API,
consumers, outbox relay: the production configuration, logging at INFO) and the baseline
(``bench.feedback_baseline``: one INSERT, nothing else) as a uvicorn process. Both get the same
load: N concurrent clients posting survey answers back to back for a fixed time, ``--runs``
runs each, interleaved. Reports requests per second and p50/p99 latency, medians and ratios.

    .venv/bin/python -m bench.feedback_throughput [--clients 32] [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import asyncpg

from bench import common
from bench.report import Metric, Result, emit
from onramp.backends import free_port

NAME = "feedback_throughput"
ROLLOUT = common.ROLLOUT
GOAL_RATIO = 0.5


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
    cpu_ms_per_request: float | None = None  # the server process and PostgreSQL, together
    client_cpu_ms_per_request: float | None = None  # the load generator (this process)


Headers = Callable[[int], dict[str, str]]


async def load(base_url: str, headers: Headers, clients: int, seconds: float) -> Run | None:
    """``clients`` workers post survey answers back to back for ``seconds``.

    Each worker has its own HTTP client and connects (one request, not counted) before the
    clock starts, so the figures are of a steady keep-alive load: with one shared client, or
    with connection setup inside the window, the measurement measures the client. The client is
    aiohttp's, which needs about a third of httpx's CPU per request: the load generator shares
    the two cores with what it measures (docs/performance.md).
    """
    latencies: list[float] = []
    errors = 0
    connected = asyncio.Barrier(clients + 1)
    go = asyncio.Event()
    deadline = 0.0

    async def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(base_url, headers=headers(n), timeout=timeout) as client:
            await _post(client, _answer(rng))
            await connected.wait()
            await go.wait()
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                if await _post(client, _answer(rng)) == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    workers = [asyncio.create_task(worker(n)) for n in range(clients)]
    await connected.wait()
    load_before = common.load_average()
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
        p50_ms=round(common.percentile(ordered, 0.50) * 1000, 2),
        p99_ms=round(common.percentile(ordered, 0.99) * 1000, 2),
        load_average=max(load_before, common.load_average()),
    )


async def _post(client: aiohttp.ClientSession, body: dict[str, Any]) -> int:
    async with client.post("/v1/feedback", json=body) as response:
        await response.read()
        return response.status


def _answer(rng: random.Random) -> dict[str, Any]:
    return {"rollout_id": ROLLOUT, "kind": "survey", "csat": rng.randint(1, 5)}


async def outbox_unsent(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        unsent: int = await conn.fetchval("SELECT count(*) FROM feedback.outbox")
        return unsent
    finally:
        await conn.close()


Targets = dict[str, tuple[str, Headers, list[int | None]]]  # url, headers, processes


async def interleaved(
    targets: Targets, clients: int, seconds: float, runs: int, warm_up_s: float, database_url: str
) -> dict[str, list[Run]]:
    """A warm-up each, then ``runs`` rounds of one run per target, the order alternating."""
    for url, headers, _ in targets.values():
        await load(url, headers, clients, warm_up_s)
    results: dict[str, list[Run]] = {name: [] for name in targets}
    for n, name in common.interleave(runs, list(targets)):
        url, headers, pids = targets[name]
        meter, client_before = common.CpuMeter(pids), common.own_cpu()
        run = await load(url, headers, clients, seconds)
        if run is None:
            raise RuntimeError(f"{name}: no request succeeded")
        cpu = meter.used() * 1000 / (run.requests + run.errors)
        client = (common.own_cpu() - client_before) * 1000 / (run.requests + run.errors)
        run = replace(
            run, cpu_ms_per_request=round(cpu, 3), client_cpu_ms_per_request=round(client, 3)
        )
        if name == "onramp":
            run = replace(run, outbox_unsent=await outbox_unsent(database_url))
        results[name].append(run)
        print(
            f"run {n + 1} {name:8} {run.req_per_s:8.1f} req/s  p50 {run.p50_ms:7.2f} ms  "
            f"p99 {run.p99_ms:7.2f} ms  CPU {run.cpu_ms_per_request:5.2f} ms/request "
            f"(load generator {run.client_cpu_ms_per_request:4.2f})  "
            f"errors {run.errors}  load {run.load_average}"
            + (f"  outbox unsent {run.outbox_unsent}" if name == "onramp" else ""),
            flush=True,
        )
    return results


async def measure(
    clients: int, seconds: float, runs: int, warm_up_s: float
) -> dict[str, list[Run]]:
    # The bench posts far above a person's rate.
    async with common.backends(NAME, {"ONRAMP_FEEDBACK_RATE_LIMIT": "1000000000"}) as be:
        await common.publish(be.bootstrap, [common.rollout_created()])
        baseline_port = free_port()
        baseline = be.start_baseline(baseline_port)
        await be.start_services(("feedback",))
        feedback = be.services["feedback"].base_url
        tokens = [common.token(f"bench-{n}", "staff") for n in range(clients)]
        await common.wait_accepting(feedback, tokens[0], _answer(random.Random(0)))
        baseline_url = f"http://127.0.0.1:{baseline_port}"
        await common.wait_http(baseline_url)
        targets: Targets = {
            "baseline": (baseline_url, lambda n: {}, [baseline.pid, be.postgres_pid]),
            "onramp": (
                feedback,
                lambda n: tokens[n],
                [be.services["feedback"].pid, be.postgres_pid],
            ),
        }
        return await interleaved(targets, clients, seconds, runs, warm_up_s, be.database_url)


def result(
    argv: Sequence[str], clients: int, seconds: float, found: dict[str, list[Run]]
) -> Result:
    onramp, baseline = found["onramp"], found["baseline"]
    throughput = [r.req_per_s for r in onramp]
    base_throughput = [r.req_per_s for r in baseline]
    ratio = statistics.median(throughput) / statistics.median(base_throughput)
    return Result(
        bench=NAME,
        title=f"POST /v1/feedback, {clients} clients back to back",
        command=common.command(NAME, argv),
        baseline="bare FastAPI + asyncpg endpoint, one INSERT (bench.feedback_baseline), uvicorn",
        metrics=[
            Metric(
                "req/s",
                throughput,
                base_throughput,
                higher_is_better=True,
                goal=f"ratio >= {GOAL_RATIO}",
                met=ratio >= GOAL_RATIO,
            ),
            Metric(
                "CPU ms/request",
                [r.cpu_ms_per_request or 0.0 for r in onramp],
                [r.cpu_ms_per_request or 0.0 for r in baseline],
                higher_is_better=False,
            ),
            Metric("p50 ms", [r.p50_ms for r in onramp], [r.p50_ms for r in baseline], False),
            Metric("p99 ms", [r.p99_ms for r in onramp], [r.p99_ms for r in baseline], False),
            Metric(
                "errors",
                [float(r.errors) for r in onramp],
                [float(r.errors) for r in baseline],
                higher_is_better=False,
                goal="0",
                met=all(r.errors == 0 for r in onramp),
            ),
        ],
        details={
            "clients": clients,
            "seconds_per_run": seconds,
            "requests": {
                "onramp": [r.requests for r in onramp],
                "baseline": [r.requests for r in baseline],
            },
            "outbox_unsent_after_run": [r.outbox_unsent for r in onramp],
            "load_generator_cpu_ms_per_request": {
                "onramp": [r.client_cpu_ms_per_request for r in onramp],
                "baseline": [r.client_cpu_ms_per_request for r in baseline],
            },
            "load_average": {
                "onramp": [r.load_average for r in onramp],
                "baseline": [r.load_average for r in baseline],
            },
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(NAME, __doc__ or "")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10.0)
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(args_list)
    if args.quick:
        args.clients, args.seconds, args.runs = min(args.clients, 4), 1.0, 1
    warm_up = 0.5 if args.quick else 2.0
    found = asyncio.run(measure(args.clients, args.seconds, args.runs, warm_up))
    emit(result(args_list, args.clients, args.seconds, found), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
