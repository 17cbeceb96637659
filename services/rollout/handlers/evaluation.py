"""Re-evaluating a running rollout when evidence changes or time passes: publish gate
changes, pause on guardrails, advance in auto mode or for a request whose approvals came in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.rollout.domain import approvals, guardrails
from services.rollout.domain.gate import GateReport
from services.rollout.domain.lifecycle import Pause, Rollout
from services.rollout.handlers import publish
from services.rollout.handlers.reading import view
from services.rollout.handlers.stages import move_on, rollout_of
from services.rollout.handlers.views import GateView
from services.rollout.repository import rollouts
from services.rollout.repository.rollouts import pause_json
from shared import scheduler
from shared.db import Conn
from shared.events.models import RolloutGateChanged, RolloutPaused
from shared.logs import get_logger
from shared.scheduler import Timer

log = get_logger("onramp.rollout")


BUSY_RETRY = timedelta(milliseconds=200)


async def on_timer(conn: Conn, timer: Timer) -> None:
    """Both timer kinds (evaluate now, soak ended) run one evaluation. When a command holds
    the rollout, try again shortly rather than wait (see ``rollouts.try_lock``)."""
    now = datetime.now(UTC)
    rollout_id = rollout_of(timer.key)
    locked = await rollouts.try_lock(conn, rollout_id)
    if locked is False:
        await scheduler.schedule(conn, timer.kind, timer.key, now + BUSY_RETRY)
    elif locked:
        await evaluate(conn, rollout_id, now)


async def evaluate(conn: Conn, rollout_id: str, now: datetime) -> None:
    """Re-evaluate after evidence changed or time passed: publish a changed gate outcome,
    pause on a guardrail, and advance when auto mode (or a waiting request) allows it."""
    rollout = await rollouts.get_rollout(conn, rollout_id, lock=True)
    if rollout is None or rollout.status not in ("running", "paused"):
        return
    requester = rollout.request.requested_by if rollout.request else None
    current = await view(conn, rollout, now, requester=requester)
    rollout = await record_outcome(conn, rollout, current.report, now)
    if rollout.status != "running" or await _guard(conn, rollout, current, now):
        return
    rule = rollout.stage_rule
    assert rule is not None
    wanted = requester is not None or rule.advance_mode == "auto"
    if wanted and current.verdict.action == "advance":
        await move_on(
            conn, rollout, current, actor=requester or "auto", override_reason=None, now=now
        )


async def record_outcome(
    conn: Conn, rollout: Rollout, report: GateReport, now: datetime
) -> Rollout:
    """Publish ``rollout.gate_changed`` when, and only when, the outcome changed."""
    if rollout.stage is None or report.outcome == rollout.gate_outcome:
        return rollout
    rule = rollout.stage_rule
    assert rule is not None
    evidence = publish.evidence(report)
    data = RolloutGateChanged(
        rollout_id=rollout.rollout_id,
        stage=rollout.stage,
        previous=rollout.gate_outcome,
        outcome=report.outcome,
        approvals_required=approvals.required(rule.approval, report.outcome),
        evidence=evidence,
        at=now,
    )
    await rollouts.update_rollout(
        conn, rollout.rollout_id, now, gate_outcome=report.outcome, gate_evaluated_at=now
    )
    reason = f"{rollout.gate_outcome or 'first evaluation'} → {report.outcome}"
    await publish.emit(
        conn,
        rollout.rollout_id,
        data,
        actor="auto",
        stage=rollout.stage,
        at=now,
        reason=reason,
        evidence=evidence,
    )
    return replace(rollout, gate_outcome=report.outcome, gate_evaluated_at=now)


async def _guard(conn: Conn, rollout: Rollout, current: GateView, now: datetime) -> bool:
    """Pause on a guardrail breach that is new (or worse than acknowledged); True if paused."""
    acknowledged = guardrails.still_acknowledged(current.breaches, rollout.guardrail_ack)
    breach = guardrails.tripped(current.breaches, acknowledged)
    if breach is None:
        if acknowledged != rollout.guardrail_ack:
            await rollouts.update_rollout(conn, rollout.rollout_id, now, guardrail_ack=acknowledged)
        return False
    assert rollout.stage is not None
    pause = Pause("guardrail", breach.reason, "auto", now, breach.guardrail)
    await rollouts.update_rollout(
        conn,
        rollout.rollout_id,
        now,
        status="paused",
        pause=pause_json(pause),
        guardrail_ack=acknowledged,
    )
    evidence = publish.evidence(current.report)
    data = RolloutPaused(
        rollout_id=rollout.rollout_id,
        stage=rollout.stage,
        actor="auto",
        cause="guardrail",
        guardrail=breach.guardrail,
        reason=breach.reason,
        evidence=evidence,
        at=now,
    )
    log.warning(
        "rollout.guardrail_tripped",
        rollout_id=rollout.rollout_id,
        guardrail=breach.guardrail,
        value=breach.value,
        limit=breach.limit,
    )
    await publish.emit(
        conn,
        rollout.rollout_id,
        data,
        actor="auto",
        stage=rollout.stage,
        at=now,
        reason=breach.reason,
        evidence=evidence,
    )
    return True
