"""Memory (RSS) of each service, idle and under load, against a bare FastAPI + asyncpg process.

Starts its own embedded broker and PostgreSQL, the three services as real processes and the
baseline (``bench.feedback_baseline`` under uvicorn: FastAPI, asyncpg, one INSERT). RSS is read
with psutil from the real processes (children included). Idle: the median of samples over
``--idle`` seconds after the process is ready and has served a few requests. Under load: the
highest sample while critical issues are posted to ``/v1/feedback`` at ``--rate`` a second for
``--seconds`` (open loop) — for Onramp that load also runs rollout's and notify's consumers
(every issue opens an escalation case and notifies IT support); the baseline gets the same posts.

    .venv/bin/python -m bench.memory [--rate 200] [--seconds 10] [--runs 3] [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
import psutil

from bench import common
from bench.report import Metric, Result, emit
from onramp.backends import free_port

NAME = "memory"
SERVICES = ("feedback", "rollout", "notify")
SAMPLE_S = 0.1
MIB = 1024 * 1024
ISSUE = {"rollout_id": common.ROLLOUT, "kind": "issue", "severity": "critical", "text": "down"}


def rss_mib(process: psutil.Process) -> float:
    total = int(process.memory_info().rss)
    for child in process.children(recursive=True):
        try:
            total += int(child.memory_info().rss)
        except psutil.NoSuchProcess:
            continue
    return round(total / MIB, 1)


async def sample(processes: Mapping[str, psutil.Process], seconds: float) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {name: [] for name in processes}
    ticks = max(1, round(seconds / SAMPLE_S))
    for _ in range(ticks):
        for name, process in processes.items():
            found[name].append(rss_mib(process))
        await asyncio.sleep(SAMPLE_S)
    return found


@dataclass(frozen=True)
class Run:
    idle: dict[str, float]
    load: dict[str, float]
    posted: int
    errors: int


async def post_at_rate(
    base_url: str, headers: dict[str, str], rate: float, seconds: float
) -> tuple[int, int]:
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)

    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=limits
    ) as client:

        async def send(n: int, scheduled: float) -> None:
            nonlocal errors
            try:
                response = await client.post("/v1/feedback", json=ISSUE)
            except httpx.HTTPError:
                errors += 1
                return
            if response.status_code != 201:
                errors += 1

        posted = await common.at_fixed_rate(rate, seconds, send)
    return posted, errors


async def one_run(
    processes: Mapping[str, psutil.Process],
    base_url: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    idle_s: float,
) -> Run:
    idle = {n: statistics.median(v) for n, v in (await sample(processes, idle_s)).items()}
    sampler = asyncio.create_task(sample(processes, seconds))
    posted, errors = await post_at_rate(base_url, headers, rate, seconds)
    load = {n: max(v) for n, v in (await sampler).items()}
    return Run(idle, load, posted, errors)


async def measure(rate: float, seconds: float, idle_s: float, runs: int) -> dict[str, list[Run]]:
    async with common.backends(NAME, {"ONRAMP_FEEDBACK_RATE_LIMIT": "1000000000"}) as be:
        await common.publish(
            be.bootstrap,
            [
                common.staff_upserted("bench-it-support", "it_support"),
                common.staff_upserted("bench-staff", "staff"),
                common.rollout_created(),
            ],
        )
        port = free_port()
        baseline = be.start_baseline(port)
        await be.start_services(SERVICES)
        baseline_url = f"http://127.0.0.1:{port}"
        await common.wait_http(baseline_url)
        headers = common.token("bench-staff", "staff")
        feedback = be.services["feedback"].base_url
        await common.wait_accepting(feedback, headers, ISSUE)
        onramp_processes = {
            name: psutil.Process(process.pid)
            for name, process in be.services.items()
            if process.pid is not None
        }
        baseline_process = {"baseline": psutil.Process(baseline.pid)}
        results: dict[str, list[Run]] = {"onramp": [], "baseline": []}
        for n, target in common.interleave(runs, ("onramp", "baseline")):
            if target == "onramp":
                found = await one_run(onramp_processes, feedback, headers, rate, seconds, idle_s)
            else:
                found = await one_run(baseline_process, baseline_url, {}, rate, seconds, idle_s)
            results[target].append(found)
            print(
                f"run {n + 1} {target:8} idle {found.idle}  load {found.load}  "
                f"posted {found.posted}  errors {found.errors}",
                flush=True,
            )
    return results


def result(argv: Sequence[str], rate: float, seconds: float, found: dict[str, list[Run]]) -> Result:
    onramp, baseline = found["onramp"], found["baseline"]
    metrics: list[Metric] = []
    for service in SERVICES:
        for phase in ("idle", "load"):
            metrics.append(
                Metric(
                    f"{service} {phase} MiB",
                    [getattr(r, phase)[service] for r in onramp],
                    [getattr(r, phase)["baseline"] for r in baseline],
                    higher_is_better=False,
                )
            )
    return Result(
        bench=NAME,
        title=f"Memory (RSS), idle and under {rate:g} issues/s for {seconds:g} s",
        command=common.command(NAME, argv),
        baseline="bare uvicorn + FastAPI + asyncpg process (bench.feedback_baseline), same posts",
        metrics=metrics,
        details={
            "rate_per_s": rate,
            "seconds_per_run": seconds,
            "posted": {
                "onramp": [r.posted for r in onramp],
                "baseline": [r.posted for r in baseline],
            },
            "errors": {
                "onramp": [r.errors for r in onramp],
                "baseline": [r.errors for r in baseline],
            },
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(NAME, __doc__ or "")
    p.add_argument("--rate", type=float, default=200.0, help="issues posted per second")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the load")
    p.add_argument("--idle", type=float, default=2.0, help="seconds of idle samples")
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(args_list)
    if args.quick:
        args.rate, args.seconds, args.idle, args.runs = min(args.rate, 20.0), 1.0, 0.3, 1
    found = asyncio.run(measure(args.rate, args.seconds, args.idle, args.runs))
    emit(result(args_list, args.rate, args.seconds, found), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
