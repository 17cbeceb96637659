"""Moving to the next stage (or completing), which every path goes through: start, advance,
the last approval, and auto mode. Also the durable timers that make a stage re-evaluate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from services.rollout.domain.lifecycle import Rollout
from services.rollout.handlers import publish
from services.rollout.handlers.reading import next_cohort
from services.rollout.handlers.views import GateView, Result
from services.rollout.repository import rollouts
from shared import scheduler
from shared.db import Conn
from shared.events.models import RolloutCompleted, RolloutStageAdvanced

EVALUATE = "rollout.evaluate"  # re-evaluate now: evidence changed
SOAK = "rollout.soak"  # re-evaluate when the stage's minimum soak ends


async def arm(conn: Conn, rollout_id: str) -> None:
    """Ask for a re-evaluation once this transaction commits, without ever waiting.

    A request already pending is reused (and held until commit, so it cannot fire too early):
    a burst of events costs one evaluation. Otherwise a new request gets its own key, because
    re-setting the key of a request being fired would wait for that evaluation to finish — one
    event per evaluation, a few per second with cohorts of 10,000.
    """
    if not await rollouts.hold_pending_request(conn, EVALUATE, rollout_id):
        key = f"{rollout_id}@{uuid4().hex[:12]}"
        await scheduler.schedule(conn, EVALUATE, key, datetime.now(UTC))


def rollout_of(timer_key: str) -> str:
    """Evaluation requests are keyed ``<rollout id>@<request id>``, soak timers by the id."""
    return timer_key.split("@", 1)[0]


async def move_on(
    conn: Conn,
    rollout: Rollout,
    current: GateView,
    *,
    actor: str,
    override_reason: str | None,
    now: datetime,
) -> Result:
    """Enter the next stage, or complete after the last."""
    if rollout.next_index is None:
        await _complete(conn, rollout, current, actor, override_reason, now)
        return "completed"
    await _enter_next(conn, rollout, current, actor, override_reason, now)
    return "started" if rollout.stage is None else "advanced"


async def _enter_next(
    conn: Conn,
    rollout: Rollout,
    current: GateView,
    actor: str,
    override_reason: str | None,
    now: datetime,
) -> None:
    to = rollout.next_index
    assert to is not None
    people = list(current.snapshot.next_cohort or ())  # the cohort the evidence was about
    await rollouts.add_members(conn, rollout.rollout_id, to, [p.staff_id for p in people])
    exposed = {p.staff_id for p in [*current.snapshot.exposed, *people]}
    following = await next_cohort(conn, replace(rollout, stage=to), exposed)
    rule = rollout.plan.stages[to]
    after = rollout.plan.stage(to + 1)
    evidence = publish.evidence(current.report)
    data = publish.fit(
        RolloutStageAdvanced(
            rollout_id=rollout.rollout_id,
            from_stage=rollout.stage,
            to_stage=to,
            stage=publish.stage(rule, people),
            next_stage=None if after is None else publish.stage(after, following or []),
            actor=actor,
            evidence=evidence,
            approvals=publish.approvals(current.votes.approved),
            override_reason=override_reason,
            at=now,
        )
    )
    await rollouts.update_rollout(
        conn,
        rollout.rollout_id,
        now,
        status="running",
        stage=to,
        epoch=rollout.epoch + 1,
        stage_started_at=now,
        gate_outcome=None,
        gate_evaluated_at=None,
        pause=None,
        guardrail_ack={},
        advance_request=None,
    )
    await publish.emit(
        conn,
        rollout.rollout_id,
        data,
        actor=actor,
        stage=to,
        at=now,
        reason=override_reason or current.verdict.reason,
        evidence=evidence,
    )
    await arm_stage(conn, rollout.rollout_id, now, rule.min_soak)


async def arm_stage(conn: Conn, rollout_id: str, started_at: datetime, soak: timedelta) -> None:
    """A stage just (re)started: evaluate it now, and again the moment its soak ends, so that
    auto mode advances on time even across restarts (the timer is a row)."""
    await arm(conn, rollout_id)
    if soak > timedelta(0):
        await scheduler.schedule(conn, SOAK, rollout_id, started_at + soak)
    else:
        await scheduler.cancel(conn, SOAK, rollout_id)


async def disarm(conn: Conn, rollout_id: str) -> None:
    """Requests still pending find the rollout finished and do nothing."""
    await scheduler.cancel(conn, SOAK, rollout_id)


async def _complete(
    conn: Conn,
    rollout: Rollout,
    current: GateView,
    actor: str,
    override_reason: str | None,
    now: datetime,
) -> None:
    assert rollout.stage is not None
    evidence = publish.evidence(current.report)
    await rollouts.update_rollout(
        conn,
        rollout.rollout_id,
        now,
        status="completed",
        completed_at=now,
        pause=None,
        advance_request=None,
        gate_outcome=current.report.outcome,
        gate_evaluated_at=now,
    )
    data = RolloutCompleted(
        rollout_id=rollout.rollout_id,
        stage=rollout.stage,
        actor=actor,
        evidence=evidence,
        approvals=publish.approvals(current.votes.approved),
        override_reason=override_reason,
        at=now,
    )
    await publish.emit(
        conn,
        rollout.rollout_id,
        data,
        actor=actor,
        stage=rollout.stage,
        at=now,
        reason=override_reason or current.verdict.reason,
        evidence=evidence,
    )
    await disarm(conn, rollout.rollout_id)
