"""The steady mixed load: other systems' events from an external confluent-kafka producer, staff
feedback over HTTP, and an admin advancing a rollout stage by stage."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from chaos.cluster import Cluster, until
from chaos.history import History, Input, Kind
from chaos.records import (
    ADMIN,
    FEEDBACK_ROLLOUT,
    HR_SOURCE,
    SEVERITIES,
    STAGES,
    SUPPORT,
    External,
    cohort,
    department,
    event_record,
    plan,
    staff_record,
    support_email,
    survey_record,
    training_record,
)
from shared.events import KafkaRecord, topics
from shared.events.models import DepartmentUpserted


@dataclass
class Pending:
    """An HTTP command waiting for a definitive answer; repeated under the same key."""

    item: Input
    client: httpx.AsyncClient
    path: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


async def setup_world(cluster: Cluster, history: History) -> None:
    """Departments, their staff, IT support, the admin, and the rollout feedback goes to."""
    external = External(cluster.bootstrap)
    people: list[str] = []
    for k in range(STAGES):
        _, record = event_record(
            "onramp.department.upserted.v1",
            HR_SOURCE,
            department(k),
            DepartmentUpserted(department_id=department(k), name=f"Department {k}"),
            topics.DIRECTORY,
            f"department/{department(k)}",
        )
        external.send(record)
        for staff_id in cohort(k):
            external.send(staff_record(staff_id, department(k), ["staff"])[1])
            people.append(staff_id)
    for staff_id in SUPPORT:
        external.send(
            staff_record(staff_id, "chaos-it", ["it_support"], support_email(staff_id))[1]
        )
        people.append(staff_id)
    external.send(staff_record(ADMIN, "chaos-it", ["admin"])[1])
    people.append(ADMIN)
    await external.flush()
    conn = await asyncpg.connect(cluster.database_url)
    try:

        async def projected() -> bool:
            counts = [
                await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.staff WHERE staff_id = ANY($1)", people
                )
                for schema in ("rollout", "notify")
            ]
            return all(c == len(people) for c in counts)

        await until(projected, 60, "the directory projected in rollout and notify")
        async with cluster.client("rollout", ADMIN, "admin") as admin:
            body = {**plan(FEEDBACK_ROLLOUT), "stages": plan(FEEDBACK_ROLLOUT)["stages"][:1]}
            response = await admin.post("/v1/rollouts", json=body)
            if response.status_code not in (201, 409):
                raise RuntimeError(f"creating the feedback rollout: {response.text}")

        async def known() -> bool:
            found = await conn.fetchval(
                "SELECT count(*) FROM feedback.rollouts WHERE rollout_id = $1", FEEDBACK_ROLLOUT
            )
            return bool(found)

        await until(known, 60, "feedback knowing the feedback rollout")
    finally:
        await conn.close()


class Load:
    """One trial's load. ``run`` ticks until ``stop``; ``pause_external`` holds the producer."""

    def __init__(self, cluster: Cluster, history: History, trial: str, tick_s: float) -> None:
        self.cluster = cluster
        self.history = history
        self.trial = trial
        self.tick_s = tick_s
        self.rollout_id = f"chaos-{trial}"
        self.external = External(cluster.bootstrap)
        self.external_paused = False
        self.http_paused = False
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: list[Pending] = []
        self._stage: int | None = None  # last stage the rollout was answered to be in
        self._advancing: Pending | None = None
        self._counter = itertools.count()
        self._staff: list[str] = []
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.http_failures = 0
        self.ticks = 0
        self.last_record: KafkaRecord | None = None

    def client(self, service: str, sub: str, *roles: str) -> httpx.AsyncClient:
        key = f"{service}:{sub}"
        if key not in self._clients:
            self._clients[key] = self.cluster.client(service, sub, *roles)
        return self._clients[key]

    async def start_rollout(self) -> None:
        admin = self.client("rollout", ADMIN, "admin")
        response = await admin.post("/v1/rollouts", json=plan(self.rollout_id))
        if response.status_code != 201:
            raise RuntimeError(f"creating rollout {self.rollout_id}: {response.text}")
        item = self._input("advance", f"{self.rollout_id}:0", rollout_id=self.rollout_id, stage=0)
        self._advancing = Pending(item, admin, f"/v1/rollouts/{self.rollout_id}/start", {})

    def _input(self, kind: Kind, ident: str, **facts: Any) -> Input:
        return self.history.add(Input(self.trial, kind, ident, time.monotonic(), facts=facts))

    # ------------------------------------------------------------------------------ external

    def send_staff(self, staff_id: str | None = None) -> Input:
        staff_id = staff_id or f"chaos-{self.trial}-s{next(self._counter)}"
        event, record = staff_record(staff_id, "chaos-load", ["staff"])
        item = self._input("staff", staff_id)
        item.event_id = event.id
        self._staff.append(staff_id)
        self.last_record = record
        self.external.send(record, item)
        return item

    def send_training(self, staff_id: str | None = None) -> Input:
        staff_id = staff_id or (self._staff[-1] if self._staff else cohort(0)[0])
        course = f"c-{self.trial}-{next(self._counter)}"
        event, record = training_record(staff_id, course)
        item = self._input("training", f"{staff_id}/{course}", staff_id=staff_id, course=course)
        item.event_id = event.id
        self.last_record = record
        self.external.send(record, item)
        return item

    def send_survey(self, _: str | None = None) -> Input:
        external_id = f"sv-{self.trial}-{next(self._counter)}"
        event, record = survey_record(external_id, csat=1 + next(self._counter) % 5)
        item = self._input("survey", external_id)
        item.event_id = event.id
        self.last_record = record
        self.external.send(record, item)
        return item

    # ---------------------------------------------------------------------------------- HTTP

    def submit_feedback(self) -> None:
        n = next(self._counter)
        submitter = cohort(n % STAGES)[n % 2]
        client = self.client("feedback", submitter, "staff")
        if n % 3 == 2:
            body = {"rollout_id": FEEDBACK_ROLLOUT, "kind": "comment", "text": f"comment {n}"}
            item = self._input("comment", "", body=body)
        else:
            severity = SEVERITIES[n % 4]
            body = {
                "rollout_id": FEEDBACK_ROLLOUT,
                "kind": "issue",
                "severity": severity,
                "category": "login",
                "text": f"issue {n}",
            }
            item = self._input("issue", "", severity=severity)
        self._pending.append(Pending(item, client, "/v1/feedback", body))

    def advance(self) -> None:
        if self._advancing is not None or self._stage is None or self._stage + 1 >= STAGES:
            return
        to = self._stage + 1
        item = self._input(
            "advance", f"{self.rollout_id}:{to}", rollout_id=self.rollout_id, stage=to
        )
        self._advancing = Pending(
            item,
            self.client("rollout", ADMIN, "admin"),
            f"/v1/rollouts/{self.rollout_id}/advance",
            {"expected_stage": self._stage},
        )

    async def _send(self, pending: Pending) -> bool:
        """True once the command has a definitive answer."""
        try:
            response = await pending.client.post(
                pending.path, json=pending.body, headers={"Idempotency-Key": pending.key}
            )
        except httpx.HTTPError:
            self.http_failures += 1
            return False
        if response.status_code >= 500 or response.status_code == 429:
            self.http_failures += 1
            return False
        item = pending.item
        item.accepted = response.status_code in (200, 201)
        item.facts["status"] = response.status_code
        if not item.accepted:
            item.facts["answer"] = response.text[:300]
        elif item.kind in ("issue", "comment"):
            item.ident = str(response.json()["feedback_id"])
        elif item.kind == "advance":
            self._stage = int(item.facts["stage"])
        return True

    async def probe_issue(self, timeout: float) -> Input:
        """A low-severity issue over HTTP, repeated under its key until it is answered."""
        body = {"rollout_id": FEEDBACK_ROLLOUT, "kind": "issue", "severity": "low", "text": "probe"}
        item = self._input("issue", "", severity="low")
        pending = Pending(
            item, self.client("feedback", cohort(1)[0], "staff"), "/v1/feedback", body
        )

        async def answered() -> bool:
            return await self._send(pending)

        await until(answered, timeout, "the probe issue answered", interval=0.1)
        if not item.accepted:
            raise TimeoutError(f"the probe issue was refused: {item.facts}")
        return item

    async def send_now(self, pending: Pending) -> bool:
        return await self._send(pending)

    async def _flush_advance(self) -> None:
        if self._advancing is not None and await self._send(self._advancing):
            self._advancing = None

    async def _flush_feedback(self) -> None:
        """Oldest first; stop at the first command without an answer (the service is away)."""
        while self._pending:
            if not await self._send(self._pending[0]):
                return
            self._pending.pop(0)

    async def _flush_http(self) -> None:
        await self._flush_advance()
        await self._flush_feedback()

    # ------------------------------------------------------------------------------ the loop

    def start(self) -> None:
        """Tick: outside systems' events and new commands; each service's commands are sent by
        their own task, so a frozen service does not hold up the others' load."""
        self._tasks = [
            asyncio.create_task(self._run()),
            asyncio.create_task(self._sender(self._flush_feedback)),
            asyncio.create_task(self._sender(self._flush_advance)),
        ]

    async def _tick(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.tick_s):  # not wait_for: see shared/wakeup.py
                await self._stopping.wait()

    async def _run(self) -> None:
        for n in itertools.count():
            if self._stopping.is_set():
                return
            self.ticks += 1
            if not self.external_paused:
                self.send_staff()
                self.send_training()
                self.send_survey()
            else:
                self.external.poll()
            if not self.http_paused:
                self.submit_feedback()
                if n % 3 == 0:
                    self.advance()
            await self._tick()

    async def _sender(self, flush: Callable[[], Awaitable[None]]) -> None:
        while not self._stopping.is_set():
            if not self.http_paused:
                await flush()
            await self._tick()

    async def finish(self, timeout: float) -> None:
        """Stop ticking; get a definitive answer for every command; flush the producer."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        deadline = time.monotonic() + timeout
        while (self._pending or self._advancing) and time.monotonic() < deadline:
            await self._flush_http()
            if self._pending or self._advancing:
                await asyncio.sleep(0.2)
        await self.external.flush(max(1.0, deadline - time.monotonic()))
        for client in self._clients.values():
            await client.aclose()

    async def wait_ticks(self, n: int) -> None:
        """Let the load run ``n`` more ticks."""
        target = self.ticks + n

        async def reached() -> bool:
            return self.ticks >= target

        await until(reached, 60 + n * 2, f"{n} load ticks")
