"""Reaction latency: feedback accepted (HTTP 201) → notification readable in the inbox.

Starts its own embedded broker, PostgreSQL and the three services, then measures, in the same
run, the raw broker round trip (aiokafka produce → consume) as the baseline.

    .venv/bin/python -m bench.latency [--samples 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from onramp.backends import create_topic, create_topics, free_port, start_broker, start_postgres
from onramp.devstack import ServiceProcess, migrate, service_env, stop_all
from shared.auth import issue_dev_token
from shared.events import new_event, to_record, topics
from shared.events.models import StaffUpserted

SECRET = "onramp-bench-secret-of-at-least-32-bytes"


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def broker_round_trip(bootstrap: str, samples: int) -> list[float]:
    topic = f"bench.rtt.{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, fetch_max_wait_ms=20, auto_offset_reset="latest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        await consumer.seek_to_end()  # waits for the partition assignment
        results = []
        for _ in range(samples):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"x")
            await consumer.getone()
            results.append(time.perf_counter() - started)
        return results
    finally:
        await producer.stop()
        await consumer.stop()


async def reaction(stack: dict[str, ServiceProcess], bootstrap: str, samples: int) -> list[float]:
    run = uuid.uuid4().hex[:6]
    support, submitter = f"it-{run}", f"staff-{run}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for staff_id, role in ((support, "it_support"), (submitter, "staff")):
        data = StaffUpserted(staff_id=staff_id, name=staff_id, roles=[role])
        event = new_event("onramp.staff.upserted.v1", source="/bench", subject=staff_id, data=data)
        r = to_record(event, topic=topics.DIRECTORY, key=staff_id)
        await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
    await producer.stop()

    def client(service: str, sub: str, role: str) -> httpx.AsyncClient:
        token = issue_dev_token(SECRET, sub, [role])
        return httpx.AsyncClient(
            base_url=stack[service].base_url, headers={"Authorization": f"Bearer {token}"}
        )

    rollout_id = f"bench-{run}"
    plan = {
        "rollout_id": rollout_id,
        "name": "Latency bench",
        "stages": [{"name": "everyone", "cohort": {"staff_ids": [submitter]}}],
    }
    async with client("rollout", "bench-admin", "admin") as admin:
        assert (await admin.post("/v1/rollouts", json=plan)).status_code == 201
        deadline = time.monotonic() + 30
        while (await admin.post(f"/v1/rollouts/{rollout_id}/start")).status_code != 200:
            assert time.monotonic() < deadline, "the rollout did not start"  # directory lag
            await asyncio.sleep(0.1)
    body = {"rollout_id": rollout_id, "kind": "issue", "severity": "critical", "text": "down"}
    results = []
    async with (
        client("feedback", submitter, "staff") as fb,
        client("notify", support, "it_support") as nt,
    ):
        seen = 0
        while seen == 0:  # warm-up: feedback knows the rollout, notify knows the directory
            await fb.post("/v1/feedback", json=body)
            seen = len((await nt.get("/v1/me/notifications")).json()["items"])
            await asyncio.sleep(0.1)
        for _ in range(samples):
            before = len(
                (await nt.get("/v1/me/notifications", params={"limit": 200})).json()["items"]
            )
            response = await fb.post("/v1/feedback", json=body)
            started = time.perf_counter()
            assert response.status_code == 201
            while True:
                items = (await nt.get("/v1/me/notifications", params={"limit": 200})).json()[
                    "items"
                ]
                if len(items) > before:
                    break
            results.append(time.perf_counter() - started)
    return results


async def main(samples: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="onramp-bench-"))
    broker = start_broker(free_port(), log_path=folder / "broker.log")
    postgres = start_postgres(folder / "pgdata")
    env = {
        **service_env(broker.bootstrap, postgres.url, SECRET),
        "ONRAMP_FEEDBACK_RATE_LIMIT": "100000",  # one person sends every sample
    }
    stack = {
        name: ServiceProcess(name, free_port(), env, log_path=folder / f"{name}.log")
        for name in ("feedback", "rollout", "notify")
    }
    try:
        await create_topics(broker.bootstrap)
        for name in stack:
            await migrate(name, env)
        for process in stack.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in stack.values()))
        baseline = await broker_round_trip(broker.bootstrap, samples)
        measured = await reaction(stack, broker.bootstrap, samples)
    finally:
        stop_all(stack.values())
        broker.stop()
        postgres.stop()
    report = {
        "samples": samples,
        "broker_round_trip": _summary(baseline),
        "http_201_to_inbox": _summary(measured),
    }
    print(json.dumps(report, indent=2))
    _save(report)


def _save(report: dict[str, object]) -> None:
    results = Path("bench/results")
    results.mkdir(parents=True, exist_ok=True)
    (results / "latency.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    asyncio.run(main(parser.parse_args().samples))
