"""What admins and approvers do over HTTP. Each command locks the rollout row first, so the
changes (and events) of one rollout are serialised in commit order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import uuid4

from services.rollout.domain import advance, approvals, lifecycle
from services.rollout.domain.approvals import Decision, Vote
from services.rollout.domain.lifecycle import AdvanceRequest, Command, Rollout
from services.rollout.domain.plan import Plan
from services.rollout.handlers import evaluation, publish, reading, stages
from services.rollout.handlers.errors import Conflict, Forbidden, NotFound, Refused
from services.rollout.handlers.reading import START_APPROVALS
from services.rollout.handlers.views import CommandResult, GateView, Result
from services.rollout.repository import rollouts, trail
from services.rollout.repository.rollouts import NewRollout, request_json
from shared.db import Conn
from shared.events.models import (
    CohortSpec,
    RolloutApprovalRecorded,
    RolloutCreated,
    StagePlan,
)


@dataclass(frozen=True, slots=True)
class NewPlan:
    rollout_id: str | None
    name: str
    description: str
    system: str
    owner_id: str | None
    plan: Plan


async def create(conn: Conn, new: NewPlan, actor: str, now: datetime) -> Rollout:
    rollout_id = new.rollout_id or f"r-{uuid4().hex[:12]}"
    row = NewRollout(
        rollout_id,
        new.name,
        new.description,
        new.system,
        new.owner_id or actor,
        new.plan,
        actor,
        now,
    )
    rollout = await rollouts.insert_rollout(conn, row)
    if rollout is None:
        raise Conflict(f"a rollout with id {rollout_id!r} exists already")
    data = RolloutCreated(
        rollout_id=rollout_id,
        name=new.name,
        description=new.description,
        owner_id=rollout.owner_id,
        stages=[
            StagePlan(
                index=index,
                name=stage.name,
                cohort=CohortSpec.model_validate(stage.cohort.model_dump()),
                required_course_ids=stage.required_course_ids,
                advance_mode=stage.advance_mode,
                min_soak_seconds=int(stage.min_soak.total_seconds()),
            )
            for index, stage in enumerate(new.plan.stages)
        ],
        actor=actor,
        at=now,
    )
    await publish.emit(conn, rollout_id, data, actor=actor, stage=None, at=now)
    return rollout


async def locked(conn: Conn, rollout_id: str, command: Command) -> Rollout:
    rollout = await rollouts.get_rollout(conn, rollout_id, lock=True)
    if rollout is None:
        raise NotFound(f"no rollout {rollout_id!r}")
    if why := lifecycle.refusal(command, rollout.status):
        raise Conflict(why, current_stage=rollout.stage, status=rollout.status)
    return rollout


def expect(rollout: Rollout, expected_stage: int) -> None:
    if why := lifecycle.stale(expected_stage, rollout.stage):
        raise Conflict(why, current_stage=rollout.stage, status=rollout.status)


async def start(
    conn: Conn, rollout_id: str, actor: str, override_reason: str | None, now: datetime
) -> CommandResult:
    """Advance from 'not started' to stage 0, through the start gate."""
    rollout = await locked(conn, rollout_id, "start")
    current = await reading.view(conn, rollout, now, requester=actor)
    verdict = advance.decide(
        current.report, START_APPROVALS, current.votes, override=override_reason is not None
    )
    current = replace(current, verdict=verdict)
    if verdict.action != "advance":
        raise Refused(current)
    reason = override_reason if verdict.overridden else None
    result = await stages.move_on(
        conn, rollout, current, actor=actor, override_reason=reason, now=now
    )
    return await _result(conn, rollout_id, result, current)


async def advance_stage(
    conn: Conn,
    rollout_id: str,
    expected_stage: int,
    actor: str,
    override_reason: str | None,
    now: datetime,
) -> CommandResult:
    """Leave the current stage if the gate and approvals allow it (or an admin overrides).
    When only approvals are missing, the request waits for them and advances on the last."""
    rollout = await locked(conn, rollout_id, "advance")
    expect(rollout, expected_stage)
    rule = rollout.stage_rule
    assert rule is not None
    current = await reading.view(conn, rollout, now, requester=actor)
    verdict = advance.decide(
        current.report, rule.approval, current.votes, override=override_reason is not None
    )
    current = replace(current, verdict=verdict)
    if verdict.action == "refuse":
        raise Refused(current)
    rollout = await evaluation.record_outcome(conn, rollout, current.report, now)
    if verdict.action == "await_approval":
        request = AdvanceRequest(actor, now)
        await rollouts.update_rollout(conn, rollout_id, now, advance_request=request_json(request))
        await publish.note(
            conn,
            rollout_id,
            "advance_requested",
            actor=actor,
            stage=rollout.stage,
            at=now,
            reason=verdict.reason,
            report=current.report,
        )
        return await _result(conn, rollout_id, "awaiting_approval", current)
    reason = override_reason if verdict.overridden else None
    result = await stages.move_on(
        conn, rollout, current, actor=actor, override_reason=reason, now=now
    )
    return await _result(conn, rollout_id, result, current)


async def vote(
    conn: Conn,
    rollout_id: str,
    expected_stage: int,
    approver_id: str,
    decision: Decision,
    comment: str,
    now: datetime,
) -> CommandResult:
    """Record an approver's vote on leaving the current stage. The last approval a waiting
    request (or auto mode) needs advances the rollout at once; a rejection withdraws a
    waiting request and blocks until its approver votes again."""
    rollout = await locked(conn, rollout_id, "approve")
    expect(rollout, expected_stage)
    rule = rollout.stage_rule
    assert rule is not None
    assert rollout.stage is not None
    requester = rollout.request.requested_by if rollout.request else None
    if why := approvals.refusal(approver_id, owner_id=rollout.owner_id, requester=requester):
        raise Forbidden(why)
    await trail.record_vote(
        conn, rollout_id, rollout.epoch, Vote(approver_id, decision, now, comment)
    )
    current = await reading.view(conn, rollout, now, requester=requester)
    data = RolloutApprovalRecorded(
        rollout_id=rollout_id,
        stage=rollout.stage,
        approver_id=approver_id,
        comment=comment,
        approvals=len(current.votes.approved),
        approvals_required=0 if rule.approval.when == "never" else rule.approval.required,
        decision=decision,
        at=now,
    )
    await publish.emit(
        conn,
        rollout_id,
        data,
        actor=approver_id,
        stage=rollout.stage,
        at=now,
        reason=comment,
        evidence=publish.evidence(current.report),
    )
    if decision == "reject" and rollout.request is not None:
        await rollouts.update_rollout(conn, rollout_id, now, advance_request=None)
        await publish.note(
            conn,
            rollout_id,
            "advance_request_withdrawn",
            actor=approver_id,
            stage=rollout.stage,
            at=now,
            reason=f"rejected by {approver_id}: {comment}",
        )
        return await _result(conn, rollout_id, "recorded", current)
    await evaluation.evaluate(conn, rollout_id, now)
    after = await rollouts.get_rollout(conn, rollout_id)
    assert after is not None
    if after.epoch == rollout.epoch and after.status != "completed":
        return CommandResult("recorded", after, current)
    return CommandResult("completed" if after.status == "completed" else "advanced", after, current)


async def reload(conn: Conn, rollout_id: str) -> Rollout:
    rollout = await rollouts.get_rollout(conn, rollout_id)
    assert rollout is not None
    return rollout


async def _result(conn: Conn, rollout_id: str, result: Result, current: GateView) -> CommandResult:
    return CommandResult(result, await reload(conn, rollout_id), current)
