"""The rollout service's projection of notify's escalation cases (what the dashboard shows),
fed by real escalation.* events through the handlers the agents name, on the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from services.rollout.repository import escalations
from shared.events import new_event
from shared.events.models import (
    EscalationAcknowledged,
    EscalationClosed,
    EscalationEscalated,
    EscalationOpened,
)
from tests.integration.rollout.conftest import World

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _send(world: World, kind: str, data: BaseModel) -> None:
    event = new_event(
        f"onramp.escalation.{kind}.v1",
        source="/onramp/notify",
        subject=f"case/{data.case_id}",  # type: ignore[attr-defined]
        data=data,
    )
    await world.apply(event)


def _opened(case_id: str, rollout_id: str | None, at: datetime = T0) -> EscalationOpened:
    return EscalationOpened(
        case_id=case_id,
        policy="guardrail",
        rollout_id=rollout_id,
        level=0,
        targets=["rollout_owner"],
        reason="open blockers reached 1",
        at=at,
    )


async def _open(world: World, rollout_id: str) -> list[escalations.OpenCase]:
    async with world.pool.acquire() as conn:
        return await escalations.open_cases(conn, rollout_id)


async def test_a_case_is_listed_from_opened_to_closed(world: World) -> None:
    rollout_id, case_id = f"r-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    await _send(world, "opened", _opened(case_id, rollout_id))
    [case] = await _open(world, rollout_id)
    assert (case.status, case.level, case.policy) == ("open", 0, "guardrail")
    assert case.reason == "open blockers reached 1"
    assert case.targets == ["rollout_owner"]

    later = T0 + timedelta(minutes=30)
    escalated = EscalationEscalated(
        case_id=case_id,
        policy="guardrail",
        rollout_id=rollout_id,
        level=1,
        targets=["role:admin"],
        at=later,
    )
    await _send(world, "escalated", escalated)
    acked = EscalationAcknowledged(
        case_id=case_id, policy="guardrail", rollout_id=rollout_id, actor="it-1", at=later
    )
    await _send(world, "acknowledged", acked)
    [case] = await _open(world, rollout_id)
    assert (case.status, case.level, case.acknowledged_by) == ("acknowledged", 1, "it-1")
    assert case.targets == ["role:admin"]
    assert case.reason == "open blockers reached 1"
    assert counts(await _counts(world, rollout_id)) == 1

    closed = EscalationClosed(
        case_id=case_id,
        policy="guardrail",
        rollout_id=rollout_id,
        actor="auto",
        reason="rollout resumed",
        at=later,
    )
    await _send(world, "closed", closed)
    assert await _open(world, rollout_id) == []
    assert counts(await _counts(world, rollout_id)) == 0


async def test_an_older_event_never_reopens_or_lowers_a_case(world: World) -> None:
    rollout_id, case_id = f"r-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    closed = EscalationClosed(
        case_id=case_id, policy="urgent-issue", rollout_id=rollout_id, actor="it-1", at=T0
    )
    await _send(world, "closed", closed)  # the close arrived first (a replay after a purge)
    await _send(world, "opened", _opened(case_id, rollout_id, at=T0 - timedelta(hours=1)))
    escalated = EscalationEscalated(
        case_id=case_id,
        policy="urgent-issue",
        rollout_id=rollout_id,
        level=2,
        targets=["role:admin"],
        at=T0,
    )
    await _send(world, "escalated", escalated)
    assert await _open(world, rollout_id) == []
    row = await world.pool.fetchrow(
        "SELECT status, level, opened_at FROM escalations WHERE case_id = $1", case_id
    )
    assert row is not None
    assert dict(row) == {
        "status": "closed",
        "level": 2,
        "opened_at": T0 - timedelta(hours=1),
    }


async def test_cases_about_no_rollout_are_not_kept(world: World) -> None:
    case_id = str(uuid.uuid4())
    await _send(world, "opened", _opened(case_id, None))
    kept = await world.pool.fetchval("SELECT count(*) FROM escalations WHERE case_id = $1", case_id)
    assert kept == 0


async def _counts(world: World, rollout_id: str) -> dict[str, int]:
    async with world.pool.acquire() as conn:
        return await escalations.open_counts(conn, [rollout_id])


def counts(found: dict[str, int]) -> int:
    return sum(found.values())
