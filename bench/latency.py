"""Reaction latency at a fixed rate: feedback accepted (HTTP 201) → notification readable.

Starts its own embedded broker, PostgreSQL and the three services. Onramp: staff send feedback
at ``--rate`` a second (open loop: each request starts on schedule, whatever the previous ones
do). A share of it (``--issue-share``, 10 % by default) is critical issues, the rest survey
answers, as in a rollout where many people answer and few things break; every piece of feedback
goes the whole way (outbox → broker → rollout's and notify's consumers). Each critical issue
opens an escalation case in notify, whose first level puts a notification in IT support's inbox,
and its reaction time is measured: from its 201 reaching
the client to the commit of that notification (a trigger the bench adds to notify's
``notifications`` table sends a ``NOTIFY`` with the feedback id; PostgreSQL delivers it at
commit, the moment the row becomes readable through ``GET /v1/me/notifications``).

Baseline, measured in the same run at the same rate: the raw broker round trip, an aiokafka
producer (``acks=all``, ``linger_ms`` as Onramp's publisher) to an aiokafka consumer with
Onramp's fetch wait, on a topic with as many partitions as Onramp's.

``--issue-share 1`` makes every request a critical issue: the heaviest path at the full rate.

    .venv/bin/python -m bench.latency [--rate 200] [--issue-share 0.1] [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import common
from bench.report import Metric, Result, emit
from onramp.backends import create_topic
from shared.settings import Settings

NAME = "latency"
SUPPORT = "bench-it-support"
SUBMITTER = "bench-staff"
PARTITIONS = Settings().topic_partitions
FETCH_MAX_WAIT_MS = Settings().kafka_fetch_max_wait_ms
LINGER_MS = 1  # shared.kafka.Publisher's
SETTLE_TIMEOUT_S = 60.0
GOAL_P99_MS = 100.0

# Tells the bench the moment a notification for IT support commits (NOTIFY is sent at commit).
TRIGGER = """
CREATE OR REPLACE FUNCTION notify.bench_readable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.recipient_id = 'bench-it-support' AND NEW.case_id IS NOT NULL THEN
        PERFORM pg_notify('bench_readable',
            (SELECT c.feedback_id FROM notify.cases c WHERE c.case_id = NEW.case_id));
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_readable ON notify.notifications;
CREATE TRIGGER bench_readable AFTER INSERT ON notify.notifications
    FOR EACH ROW EXECUTE FUNCTION notify.bench_readable();
"""

ISSUE = {"rollout_id": common.ROLLOUT, "kind": "issue", "severity": "critical", "text": "down"}
ANSWERS = [{"rollout_id": common.ROLLOUT, "kind": "survey", "csat": csat} for csat in range(1, 6)]


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]
    sent: int
    errors: int
    load_average: float
    request_ms: list[float] = field(default_factory=list)  # Onramp: POST sent → 201 received
    cpu_ms: dict[str, float] = field(default_factory=dict)  # Onramp: CPU per issue, by process
    client_cpu_ms: float | None = None  # Onramp: the load generator's CPU per piece of feedback

    def p(self, share: float) -> float:
        return round(common.percentile(self.latencies_ms, share), 2)


class Readable:
    """Listens for the trigger's notifications: feedback id → when it became readable."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.changed = asyncio.Event()

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self.seen.setdefault(str(payload), time.perf_counter())
        self.changed.set()

    async def wait_for(self, ids: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(i not in self.seen for i in ids):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sum(1 for i in ids if i not in self.seen)
                raise TimeoutError(f"{missing} accepted issues never reached the inbox")
            self.changed.clear()
            try:
                async with asyncio.timeout(left):  # not wait_for: see shared/wakeup.py
                    await self.changed.wait()
            except TimeoutError:
                continue


async def onramp_run(
    base_url: str,
    headers: dict[str, str],
    readable: Readable,
    rate: float,
    seconds: float,
    processes: Mapping[str, int | None] | None = None,
    issue_share: float = 1.0,
) -> Run:
    """Feedback at ``rate`` for ``seconds``, ``issue_share`` of it critical issues (measured),
    the rest survey answers, on fresh connections (an idle keep-alive connection the server
    closed between runs would fail a request for the client's sake).

    The client is aiohttp's: on two cores the load generator's CPU is taken from the services,
    and httpx used about 2 ms of it per request, more than any single service
    (``load_generator_cpu_ms_per_event`` in the JSON; docs/performance.md).
    """
    accepted: dict[str, float] = {}
    requests: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    client = aiohttp.ClientSession(
        base_url, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    )

    async def send(n: int, scheduled: float) -> None:
        nonlocal errors
        issue = int((n + 1) * issue_share) > int(n * issue_share)  # evenly spread
        started = time.perf_counter()
        try:
            body = ISSUE if issue else ANSWERS[n % len(ANSWERS)]
            async with client.post("/v1/feedback", json=body) as response:
                answer = await response.json() if response.status == 201 else None
        except (aiohttp.ClientError, TimeoutError):
            errors += 1
            return
        at = time.perf_counter()
        if answer is None:
            errors += 1
            return
        requests.append((at - started) * 1000)
        if issue:
            accepted[answer["feedback_id"]] = at

    processes = processes or {}
    meters = {name: common.CpuMeter([pid]) for name, pid in processes.items()}
    client_before = common.own_cpu()
    load_before = common.load_average()
    async with client:
        sent = await common.at_fixed_rate(rate, seconds, send)
    await readable.wait_for(list(accepted), SETTLE_TIMEOUT_S)
    # CPU per piece of feedback sent (issues and answers alike)
    cpu = {name: round(meter.used() * 1000 / max(1, sent), 3) for name, meter in meters.items()}
    client_cpu = round((common.own_cpu() - client_before) * 1000 / max(1, sent), 3)
    latencies = [(readable.seen[i] - at) * 1000 for i, at in accepted.items()]
    load = max(load_before, common.load_average())
    return Run(latencies, sent, errors, load, requests, cpu, client_cpu)


class RoundTrip:
    """The raw broker hop: produce at the rate, consume with Onramp's fetch wait."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.topic = f"bench.rtt.{uuid.uuid4().hex[:8]}"
        self.sent_at: dict[bytes, float] = {}
        self.seen: dict[bytes, float] = {}
        self.changed = asyncio.Event()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=LINGER_MS
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            enable_auto_commit=False,
        )
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await create_topic(self.bootstrap, self.topic, partitions=PARTITIONS)
        await self.producer.start()
        await self.consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.consumer:
            self.seen.setdefault(message.value, time.perf_counter())
            self.changed.set()

    async def run(self, rate: float, seconds: float) -> Run:
        ids: list[bytes] = []

        async def send(n: int, scheduled: float) -> None:
            value = uuid.uuid4().bytes
            ids.append(value)
            self.sent_at[value] = time.perf_counter()
            await self.producer.send_and_wait(self.topic, value, key=value)

        load_before = common.load_average()
        sent = await common.at_fixed_rate(rate, seconds, send)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while any(i not in self.seen for i in ids):
            if time.monotonic() > deadline:
                raise TimeoutError("records sent to the broker were not consumed")
            self.changed.clear()
            try:
                async with asyncio.timeout(1.0):
                    await self.changed.wait()
            except TimeoutError:
                continue
        latencies = [(self.seen[i] - self.sent_at[i]) * 1000 for i in ids]
        return Run(latencies, sent, 0, max(load_before, common.load_average()))

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.producer.stop()
        await self.consumer.stop()


async def measure(
    rate: float, seconds: float, runs: int, warm_up_s: float, issue_share: float
) -> dict[str, list[Run]]:
    env = {"ONRAMP_FEEDBACK_RATE_LIMIT": "1000000000"}  # one person sends every issue
    async with common.backends(NAME, env) as be:
        await common.publish(
            be.bootstrap,
            [
                common.staff_upserted(SUPPORT, "it_support"),
                common.staff_upserted(SUBMITTER, "staff"),
                common.rollout_created(),
            ],
        )
        await be.start_services(("feedback", "rollout", "notify"))
        listener = await asyncpg.connect(be.database_url)
        round_trip = RoundTrip(be.bootstrap)
        try:
            await listener.execute(TRIGGER)
            readable = Readable()
            await listener.add_listener("bench_readable", readable.on_notify)
            await round_trip.start()
            feedback = be.services["feedback"].base_url
            headers = common.token(SUBMITTER, "staff")
            await common.wait_accepting(feedback, headers, ISSUE)
            # Warm-up, not counted: notify has seen the directory, the code paths are hot.
            await onramp_run(feedback, headers, readable, rate, warm_up_s, None, issue_share)
            await round_trip.run(rate, warm_up_s)
            results: dict[str, list[Run]] = {"onramp": [], "baseline": []}
            processes = {name: process.pid for name, process in be.services.items()}
            processes |= {"postgres": be.postgres_pid, "broker": be.broker_pid}
            for run, target in common.interleave(runs, ("onramp", "baseline")):
                if target == "onramp":
                    found = await onramp_run(
                        feedback, headers, readable, rate, seconds, processes, issue_share
                    )
                else:
                    found = await round_trip.run(rate, seconds)
                results[target].append(found)
                post = (
                    f"  POST p99 {common.percentile(found.request_ms, 0.99):7.1f} ms"
                    if found.request_ms
                    else ""
                )
                print(
                    f"run {run + 1} {target:8} p50 {found.p(0.5):7.1f} ms  "
                    f"p95 {found.p(0.95):7.1f} ms  p99 {found.p(0.99):7.1f} ms  "
                    f"errors {found.errors}  load {found.load_average}{post}"
                    + (f"\n    CPU ms/event {found.cpu_ms}" if found.cpu_ms else "")
                    + (f", load generator {found.client_cpu_ms}" if found.cpu_ms else ""),
                    flush=True,
                )
        finally:
            await round_trip.stop()
            await listener.close()
    return results


def result(
    argv: Sequence[str],
    rate: float,
    seconds: float,
    issue_share: float,
    found: dict[str, list[Run]],
) -> Result:
    onramp, baseline = found["onramp"], found["baseline"]

    def metric(label: str, share: float, goal: bool = False) -> Metric:
        values = [r.p(share) for r in onramp]
        met = statistics.median(values) < GOAL_P99_MS if goal else None
        return Metric(
            label,
            values,
            [r.p(share) for r in baseline],
            higher_is_better=False,
            goal=f"p99 < {GOAL_P99_MS:.0f} ms" if goal else None,
            met=met,
        )

    return Result(
        bench=NAME,
        title=(
            f"Reaction latency at {rate:g} events/s ({issue_share:.0%} critical issues): "
            "HTTP 201 → notification readable"
        ),
        command=common.command(NAME, argv),
        baseline=f"raw broker round trip (aiokafka produce → consume) at {rate:g}/s",
        metrics=[
            metric("p50 ms", 0.50),
            metric("p95 ms", 0.95),
            metric("p99 ms", 0.99, goal=True),
            Metric(
                "CPU ms/event",
                [round(sum(r.cpu_ms.values()), 3) for r in onramp],
                None,
                higher_is_better=False,
            ),
            Metric(
                "errors",
                [float(r.errors) for r in onramp],
                None,
                higher_is_better=False,
                goal="0",
                met=all(r.errors == 0 for r in onramp),
            ),
        ],
        details={
            "rate_per_s": rate,
            "issue_share": issue_share,
            "seconds_per_run": seconds,
            "samples_per_run": [r.sent for r in onramp],
            "load_average": {
                "onramp": [r.load_average for r in onramp],
                "baseline": [r.load_average for r in baseline],
            },
            "post_p50_ms": [
                round(common.percentile(r.request_ms, 0.5), 2) for r in onramp if r.request_ms
            ],
            "post_p99_ms": [
                round(common.percentile(r.request_ms, 0.99), 2) for r in onramp if r.request_ms
            ],
            "cpu_ms_per_event": [r.cpu_ms for r in onramp],
            "load_generator_cpu_ms_per_event": [r.client_cpu_ms for r in onramp],
            "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
            "partitions": PARTITIONS,
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(NAME, __doc__ or "")
    p.add_argument("--rate", type=float, default=200.0, help="feedback (and records) per second")
    p.add_argument(
        "--issue-share",
        type=float,
        default=0.1,
        help="share of the feedback that is critical issues, whose reaction is measured",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="length of one run")
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(args_list)
    if args.quick:
        args.rate, args.seconds, args.runs = min(args.rate, 50.0), 1.0, 1
    warm_up = 0.5 if args.quick else 2.0
    if not 0 < args.issue_share <= 1:
        p.error("--issue-share must be in (0, 1]")
    found = asyncio.run(measure(args.rate, args.seconds, args.runs, warm_up, args.issue_share))
    emit(result(args_list, args.rate, args.seconds, args.issue_share, found), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
