"""Rollout events: the projection, notifications, cases, reminder ladders and the stall clock.

Every handler takes the rollout's stall timer first (lock order: timers, then rows, then
delivery shards), changes what it must, and sets the timer again from the clock's new state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notify.domain import rules
from services.notify.domain.notifications import Draft
from services.notify.handlers import case_status, cases, fanout, reminders, stall
from services.notify.repository import cases as case_repo
from services.notify.repository import directory, projections
from services.notify.repository.projections import RolloutRow
from services.notify.settings import Deps
from shared.db import Conn
from shared.events import CloudEvent
from shared.events.models import (
    RolloutCompleted,
    RolloutCreated,
    RolloutGateChanged,
    RolloutPaused,
    RolloutResumed,
    RolloutRolledBack,
    RolloutStageAdvanced,
)

ROLLOUT_CASES = ("guardrail", "override", "stalled")


def _view(row: RolloutRow | None, rollout_id: str) -> rules.Rollout:
    if row is None:
        return rules.Rollout(rollout_id, rollout_id)
    return rules.Rollout(row.rollout_id, row.name, row.owner_id)


async def _close_cases(
    conn: Conn,
    deps: Deps,
    rollout_id: str,
    *,
    actor: str,
    at: datetime,
    reason: str,
    kinds: tuple[str, ...] = ROLLOUT_CASES,
    stage_from: int | None = None,
) -> None:
    found = await case_repo.open_case_ids(
        conn, rollout_id=rollout_id, kinds=kinds, stage_from=stage_from
    )
    await case_status.close_all(conn, deps, found, actor=actor, at=at, reason=reason)


async def _publish(conn: Conn, deps: Deps, event: CloudEvent[Any], drafts: list[Draft]) -> None:
    source = fanout.Source(event.id, event.type, event.data.rollout_id)
    await fanout.publish(conn, deps, source, drafts)


async def on_created(deps: Deps, conn: Conn, event: CloudEvent[RolloutCreated]) -> None:
    created = event.data
    await projections.rollout_created(
        conn, created.rollout_id, created.name, created.owner_id, created.at
    )


async def on_stage_advanced(
    deps: Deps, conn: Conn, event: CloudEvent[RolloutStageAdvanced]
) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    await projections.stage_started(
        conn, e.rollout_id, e.to_stage, e.stage.name, e.stage.cohort.member_ids, e.at
    )
    rollout = _view(await projections.rollout(conn, e.rollout_id), e.rollout_id)
    await _close_cases(
        conn,
        deps,
        e.rollout_id,
        actor=e.actor,
        at=e.at,
        reason=f"stage {e.to_stage + 1} started",
        kinds=("guardrail", "stalled"),
    )
    await reminders.stop(conn, e.rollout_id, keep=range(e.to_stage + 1, e.to_stage + 2))
    following = e.next_stage
    if following is not None:
        context = {
            "rollout_id": e.rollout_id,
            "rollout_name": rollout.name,
            "stage_index": e.to_stage + 1,
            "stage_name": following.name,
        }
        await reminders.start(
            conn,
            deps,
            rollout_id=e.rollout_id,
            stage_index=e.to_stage + 1,
            started_at=e.at,
            members=following.cohort.member_ids,
            courses=following.required_course_ids,
            context=context,
        )
    await stall.run_clock(conn, deps, e.rollout_id, e.to_stage, e.at)
    if e.override_reason:
        await cases.open_override(
            conn,
            deps,
            event.id,
            rollout,
            e.to_stage,
            e.actor,
            e.override_reason,
            e.evidence.outcome,
            e.at,
        )
    members = [*e.stage.cohort.member_ids, *(following.cohort.member_ids if following else [])]
    courses = [*e.stage.required_course_ids, *(following.required_course_ids if following else [])]
    done = await projections.completed_courses(conn, members, courses) if courses else {}
    await _publish(conn, deps, event, rules.stage_advanced(e, rollout, done))


async def on_gate_changed(deps: Deps, conn: Conn, event: CloudEvent[RolloutGateChanged]) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    row = await projections.rollout(conn, e.rollout_id)
    current = row is not None and row.stage_index == e.stage and row.status == "running"
    since = row.stall_since if row else None
    if current:
        await projections.set_gate(conn, e.rollout_id, e.stage, e.outcome)
        if e.outcome == "pass":
            since = None
            await _close_cases(
                conn,
                deps,
                e.rollout_id,
                actor="auto",
                at=e.at,
                reason="the gate passes",
                kinds=("stalled",),
                stage_from=e.stage,
            )
        elif e.previous == "pass":
            since = e.at  # stopped passing: a full deadline from now
    await stall.run_clock(conn, deps, e.rollout_id, row.stage_index if row else None, since)
    approvers: list[str] = []
    if e.outcome == "inconclusive" and e.approvals_required:
        approvers = (await directory.role_members(conn, ["approver"])).get("approver", [])
    await _publish(conn, deps, event, rules.gate_changed(e, _view(row, e.rollout_id), approvers))


async def on_paused(deps: Deps, conn: Conn, event: CloudEvent[RolloutPaused]) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    await projections.set_status(conn, e.rollout_id, "paused", e.at)
    await stall.run_clock(conn, deps, e.rollout_id, None, None)
    row = await projections.rollout(conn, e.rollout_id)
    rollout = _view(row, e.rollout_id)
    if e.cause == "guardrail":
        facts = {
            "rollout_id": e.rollout_id,
            "rollout_name": rollout.name,
            "stage_index": e.stage,
            "guardrail": e.guardrail or "guardrail",
            "reason": e.reason,
        }
        opening = cases.Opening(
            kind="guardrail",
            dedupe_key=f"guardrail:{event.id}",
            reason=e.reason or "paused",
            facts=facts,
            opened_at=e.at,
            rollout_id=e.rollout_id,
            stage_index=e.stage,
        )
        await cases.open_case(conn, deps, opening)
    cohort = row.cohort_member_ids if row else []
    await _publish(conn, deps, event, rules.paused(e, rollout, cohort))


async def on_resumed(deps: Deps, conn: Conn, event: CloudEvent[RolloutResumed]) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    await projections.set_status(conn, e.rollout_id, "running", e.at)
    row = await projections.rollout(conn, e.rollout_id)
    await _close_cases(
        conn,
        deps,
        e.rollout_id,
        actor=e.actor,
        at=e.at,
        reason="the rollout resumed",
        kinds=("guardrail",),
    )
    stage = row.stage_index if row else None
    stalled = await case_repo.open_case_ids(
        conn, rollout_id=e.rollout_id, kinds=("stalled",), stage=stage
    )
    passing = row is not None and row.gate_outcome == "pass"
    clock = None if passing or stalled else e.at  # an open stalled case already follows it
    await stall.run_clock(conn, deps, e.rollout_id, stage, clock)
    cohort = row.cohort_member_ids if row else []
    await _publish(conn, deps, event, rules.resumed(e, _view(row, e.rollout_id), cohort))


async def on_rolled_back(deps: Deps, conn: Conn, event: CloudEvent[RolloutRolledBack]) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    await projections.returned_to_stage(conn, e.rollout_id, e.to_stage, e.at)
    back_to = -1 if e.to_stage is None else e.to_stage
    await _close_cases(
        conn,
        deps,
        e.rollout_id,
        actor=e.actor,
        at=e.at,
        reason=f"rolled back from stage {e.from_stage + 1}",
        stage_from=back_to + 1,
    )
    await reminders.stop(conn, e.rollout_id, keep=range(0, back_to + 1))
    await stall.run_clock(
        conn, deps, e.rollout_id, e.to_stage, None if e.to_stage is None else e.at
    )
    row = await projections.rollout(conn, e.rollout_id)
    await _publish(conn, deps, event, rules.rolled_back(e, _view(row, e.rollout_id)))


async def on_completed(deps: Deps, conn: Conn, event: CloudEvent[RolloutCompleted]) -> None:
    e = event.data
    await stall.take_timer(conn, e.rollout_id)
    await projections.set_status(conn, e.rollout_id, "completed", e.at)
    await stall.run_clock(conn, deps, e.rollout_id, None, None)
    await _close_cases(
        conn, deps, e.rollout_id, actor=e.actor, at=e.at, reason="the rollout is complete"
    )
    await reminders.stop(conn, e.rollout_id, keep=range(0))
    row = await projections.rollout(conn, e.rollout_id)
    rollout = _view(row, e.rollout_id)
    if e.override_reason:
        outcome = e.evidence.outcome if e.evidence else "unknown"
        await cases.open_override(
            conn,
            deps,
            event.id,
            rollout,
            e.stage,
            e.actor,
            e.override_reason,
            outcome,
            e.at,
            completing=True,
        )
    await _publish(conn, deps, event, rules.completed(e, rollout))
