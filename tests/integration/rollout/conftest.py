"""The rollout service on a fresh schema of the real database: its routes in process (httpx over
ASGI), its consumer handlers fed real events, its durable timers fired by the real scheduler."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from services.rollout.agents import SUBSCRIPTIONS, TIMERS
from services.rollout.api import router
from services.rollout.handlers import evaluation
from shared import db, http
from shared.auth import TokenVerifier, issue_dev_token
from shared.events import CloudEvent, decode, new_event
from shared.events.models import (
    DepartmentUpserted,
    FeedbackResolved,
    FeedbackSubmitted,
    StaffUpserted,
    TrainingCompleted,
)
from shared.scheduler import Scheduler
from shared.settings import Settings
from tests.conftest import TEST_JWT_SECRET, ServicePool

ClientFor = Callable[..., httpx.AsyncClient]


def plan(*stages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A rollout body with a fresh id."""
    return {
        "rollout_id": f"r-{uuid.uuid4().hex[:10]}",
        "name": "CRM rollout",
        "system": "CRM",
        "stages": list(stages),
        **fields,
    }


def stage(name: str, **fields: Any) -> dict[str, Any]:
    """A stage whose gate checks nothing unless told: tests switch on what they look at."""
    body: dict[str, Any] = {
        "name": name,
        "cohort": {"department_ids": [name]},
        "gate": {"satisfaction": None, "training": None, "blockers": None},
    }
    return body | fields


@dataclass
class World:
    """Other systems' events, applied the way the consumer wrapper applies them."""

    pool: db.Pool
    schema: str
    settings: Settings

    async def apply(self, event: CloudEvent[BaseModel]) -> None:
        handler = next(h[event.type] for h in SUBSCRIPTIONS.values() if event.type in h)
        async with db.transaction(self.pool) as conn:
            await handler(conn, event)

    async def staff(
        self, staff_id: str, department_id: str | None, *, active: bool = True, name: str = ""
    ) -> None:
        data = StaffUpserted(
            staff_id=staff_id,
            name=name or staff_id.title(),
            department_id=department_id,
            active=active,
        )
        await self.apply(_event("onramp.staff.upserted.v1", f"staff/{staff_id}", data))

    async def department(self, department_id: str, name: str) -> None:
        data = DepartmentUpserted(department_id=department_id, name=name)
        await self.apply(_event("onramp.department.upserted.v1", f"dept/{department_id}", data))

    async def people(self, department_id: str, count: int) -> list[str]:
        ids = [f"{department_id}-{n}" for n in range(count)]
        for staff_id in ids:
            await self.staff(staff_id, department_id)
        return ids

    async def trained(self, staff_id: str, course_id: str, result: str = "passed") -> None:
        data = TrainingCompleted(
            staff_id=staff_id,
            course_id=course_id,
            result=result,  # type: ignore[arg-type]
            completed_at=datetime.now(UTC),
        )
        await self.apply(_event("onramp.training.completed.v1", f"staff/{staff_id}", data))

    async def survey(
        self,
        rollout_id: str,
        staff_id: str | None,
        csat: int,
        *,
        department_id: str | None = None,
        respondent: str | None = None,
        at: datetime | None = None,
    ) -> str:
        feedback_id = str(uuid.uuid4())
        data = FeedbackSubmitted(
            feedback_id=feedback_id,
            rollout_id=rollout_id,
            kind="survey",
            csat=csat,
            anonymous=staff_id is None,
            staff_id=staff_id,
            department_id=department_id,
            respondent_key=respondent or f"key-{staff_id}",
            submitted_at=at or datetime.now(UTC),
        )
        await self.apply(_event("onramp.feedback.submitted.v1", f"rollout/{rollout_id}", data))
        return feedback_id

    async def issue(
        self, rollout_id: str, staff_id: str | None, severity: str, department_id: str | None = None
    ) -> str:
        feedback_id = str(uuid.uuid4())
        data = FeedbackSubmitted(
            feedback_id=feedback_id,
            rollout_id=rollout_id,
            kind="issue",
            severity=severity,  # type: ignore[arg-type]
            text="broken",
            anonymous=staff_id is None,
            staff_id=staff_id,
            department_id=department_id,
            respondent_key=f"key-{staff_id}",
            submitted_at=datetime.now(UTC),
        )
        await self.apply(_event("onramp.feedback.submitted.v1", f"rollout/{rollout_id}", data))
        return feedback_id

    async def resolve(self, rollout_id: str, feedback_id: str) -> None:
        data = FeedbackResolved(
            feedback_id=feedback_id,
            rollout_id=rollout_id,
            actor="it-1",
            resolution="fixed",
            at=datetime.now(UTC),
        )
        await self.apply(_event("onramp.feedback.resolved.v1", f"rollout/{rollout_id}", data))

    async def fire_timers(self) -> int:
        """Fire every due timer (the evaluations events asked for) with the real scheduler."""
        runner = Scheduler(
            self.pool,
            TIMERS,
            url=self.settings.database_url or "",
            schema=self.schema,
            poll_interval_s=60,
        )
        fired = 0
        try:
            while await runner.fire_one():
                fired += 1
        finally:
            await runner.close()
        return fired

    async def evaluate_at(self, rollout_id: str, now: datetime) -> None:
        """What a timer does, at a chosen time (to skip a soak without waiting for it)."""
        async with db.transaction(self.pool) as conn:
            await evaluation.evaluate(conn, rollout_id, now)

    async def events(self, rollout_id: str) -> list[CloudEvent[Any]]:
        """rollout.* events staged in the outbox for ``rollout_id``, in commit order."""
        rows = await self.pool.fetch(
            "SELECT value, headers FROM outbox WHERE key = $1 ORDER BY id", rollout_id.encode()
        )
        return [
            decode(bytes(r["value"]), [(k, v.encode()) for k, v in r["headers"]], max_bytes=2**22)
            for r in rows
        ]

    async def types(self, rollout_id: str) -> list[str]:
        return [
            e.type.removeprefix("onramp.rollout.").removesuffix(".v1")
            for e in await self.events(rollout_id)
        ]


async def started(world: World, admin: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Create the plan ``body`` and start it; its first evaluation done."""
    assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
    response = await admin.post(f"/v1/rollouts/{body['rollout_id']}/start")
    assert response.status_code == 200, response.text
    await world.fire_timers()
    return str(body["rollout_id"])


def _event(type_: str, subject: str, data: BaseModel) -> CloudEvent[BaseModel]:
    return new_event(type_, source="/test/outside", subject=subject, data=data)


@pytest.fixture
async def rollout_pool(service_pool: ServicePool) -> db.Pool:
    return await service_pool("rollout")


@pytest.fixture
async def world(rollout_pool: db.Pool, settings: Settings) -> World:
    schema: str = await rollout_pool.fetchval("SELECT current_schema()")
    return World(rollout_pool, schema, settings)


@pytest.fixture
async def client_for(rollout_pool: db.Pool, settings: Settings) -> AsyncIterator[ClientFor]:
    """``client_for(sub, *roles)``: an HTTP client of the rollout API as that person."""
    app = FastAPI()
    http.install(app, max_body_bytes=settings.max_body_bytes)
    app.include_router(router, prefix="/v1")
    app.state.runtime = SimpleNamespace(pool=rollout_pool)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    made: list[httpx.AsyncClient] = []

    def make(sub: str, *roles: str) -> httpx.AsyncClient:
        token = issue_dev_token(TEST_JWT_SECRET, sub, list(roles))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://rollout",
            headers={"Authorization": f"Bearer {token}"},
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def admin(client_for: ClientFor) -> httpx.AsyncClient:
    return client_for("owner-1", "admin")


@pytest.fixture
def approver(client_for: ClientFor) -> httpx.AsyncClient:
    return client_for("approver-1", "approver")
