"""Admin controls: pause, resume and roll back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.rollout.domain import guardrails
from services.rollout.domain.lifecycle import Pause, Rollout
from services.rollout.handlers import commands, publish, reading, stages
from services.rollout.repository import rollouts
from services.rollout.repository.rollouts import pause_json
from shared.db import Conn
from shared.events.models import RolloutPaused, RolloutResumed, RolloutRolledBack


async def pause(conn: Conn, rollout_id: str, actor: str, reason: str, now: datetime) -> Rollout:
    rollout = await commands.locked(conn, rollout_id, "pause")
    assert rollout.stage is not None
    current = await reading.view(conn, rollout, now, requester=None)
    stopped = Pause("manual", reason, actor, now)
    await rollouts.update_rollout(conn, rollout_id, now, status="paused", pause=pause_json(stopped))
    evidence = publish.evidence(current.report)
    data = RolloutPaused(
        rollout_id=rollout_id,
        stage=rollout.stage,
        actor=actor,
        cause="manual",
        reason=reason,
        evidence=evidence,
        at=now,
    )
    await publish.emit(
        conn,
        rollout_id,
        data,
        actor=actor,
        stage=rollout.stage,
        at=now,
        reason=reason,
        evidence=evidence,
    )
    return await commands.reload(conn, rollout_id)


async def resume(conn: Conn, rollout_id: str, actor: str, reason: str, now: datetime) -> Rollout:
    """Resuming acknowledges the guardrail breaches of this moment (see domain.guardrails)."""
    rollout = await commands.locked(conn, rollout_id, "resume")
    assert rollout.stage is not None
    current = await reading.view(conn, rollout, now, requester=None)
    acknowledged = guardrails.acknowledge(current.breaches)
    await rollouts.update_rollout(
        conn, rollout_id, now, status="running", pause=None, guardrail_ack=acknowledged
    )
    data = RolloutResumed(
        rollout_id=rollout_id, stage=rollout.stage, actor=actor, reason=reason, at=now
    )
    await publish.emit(
        conn,
        rollout_id,
        data,
        actor=actor,
        stage=rollout.stage,
        at=now,
        reason=reason,
        evidence=publish.evidence(current.report),
    )
    await stages.arm(conn, rollout_id)
    return await commands.reload(conn, rollout_id)


async def rollback(
    conn: Conn, rollout_id: str, expected_stage: int, actor: str, reason: str, now: datetime
) -> Rollout:
    """Back to the previous stage: the current cohort returns to the old system. The earlier
    stage starts anew (soak, responses and approvals count from now) and waits, paused, for an
    admin to resume; rolling back stage 0 returns to 'not started'."""
    rollout = await commands.locked(conn, rollout_id, "rollback")
    commands.expect(rollout, expected_stage)
    assert rollout.stage is not None
    current = await reading.view(conn, rollout, now, requester=None)
    to = rollout.stage - 1 if rollout.stage > 0 else None
    await rollouts.remove_members(conn, rollout_id, rollout.stage)
    restart: dict[str, Any] = {
        "stage": to,
        "epoch": rollout.epoch + 1,
        "gate_outcome": None,
        "gate_evaluated_at": None,
        "guardrail_ack": {},
        "advance_request": None,
    }
    if to is None:
        await rollouts.update_rollout(
            conn, rollout_id, now, status="planned", stage_started_at=None, pause=None, **restart
        )
        await stages.disarm(conn, rollout_id)
    else:
        waiting = Pause("rollback", reason, actor, now)
        await rollouts.update_rollout(
            conn,
            rollout_id,
            now,
            status="paused",
            stage_started_at=now,
            pause=pause_json(waiting),
            **restart,
        )
        await stages.arm_stage(conn, rollout_id, now, rollout.plan.stages[to].min_soak)
    data = publish.fit(
        RolloutRolledBack(
            rollout_id=rollout_id,
            from_stage=rollout.stage,
            to_stage=to,
            cohort=publish.cohort(current.snapshot.cohort),
            actor=actor,
            reason=reason,
            at=now,
        )
    )
    await publish.emit(
        conn,
        rollout_id,
        data,
        actor=actor,
        stage=to,
        at=now,
        reason=reason,
        evidence=publish.evidence(current.report),
    )
    return await commands.reload(conn, rollout_id)
