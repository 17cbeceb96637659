"""Escalation cases: open, page each level when it comes due, acknowledge, close.

A case's next step is stored on the case, and the ``escalation/<case id>`` timer mirrors it. A
firing timer pages only if its step is still the case's next step, and moves the case to the
following step in the same transaction that deletes the timer: each level of each loop pages
exactly once, however often processes crash or restart.

Lock order, everywhere: the case's timer row, then the case row, then delivery shard rows. The
scheduler holds the timer row while it fires; acknowledging and closing therefore cancel the
timer before they lock the case, and set it again from the case's new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.notify import metrics
from services.notify.domain import escalation, rules, targets
from services.notify.domain.escalation import CaseKind, Policy, Step
from services.notify.domain.notifications import for_each
from services.notify.handlers import events, fanout
from services.notify.repository import cases, directory, projections
from services.notify.repository.cases import Case, LogEntry
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn
from shared.logs import get_logger
from shared.scheduler import Timer

log = get_logger("onramp.notify.cases")

ESCALATION_TIMER = "escalation"


@dataclass(frozen=True, slots=True)
class Opening:
    kind: CaseKind
    dedupe_key: str  # at most one case per key, ever (redeliveries open nothing new)
    reason: str
    facts: dict[str, Any]  # what the case's notifications show
    opened_at: datetime
    rollout_id: str | None = None
    stage_index: int | None = None
    feedback_id: str | None = None
    submitter_id: str | None = None
    department_id: str | None = None


async def effective_policy(conn: Conn, name: str) -> Policy:
    stored = await cases.stored_policies(conn, [name])
    if name in stored:
        return escalation.from_json(name, stored[name]["policy"])
    return escalation.DEFAULT_POLICIES[name]


def event_fields(case: Case, at: datetime, **more: Any) -> dict[str, Any]:
    return {
        "case_id": str(case.case_id),
        "policy": case.policy.name,
        "rollout_id": case.rollout_id,
        "feedback_id": case.feedback_id,
        "at": at,
        **more,
    }


async def open_case(conn: Conn, deps: Deps, opening: Opening) -> UUID | None:
    """Open a case and page its first level if due; None when the case exists already."""
    policy = await effective_policy(conn, escalation.CASE_TYPES[opening.kind].policy)
    first = Step(0, 0)  # every condition pages an open case
    now = deps.clock()
    case = Case(
        case_id=uuid4(),
        kind=opening.kind,
        policy=policy,
        status="open",
        reason=opening.reason,
        facts=opening.facts,
        rollout_id=opening.rollout_id,
        stage_index=opening.stage_index,
        feedback_id=opening.feedback_id,
        submitter_id=opening.submitter_id,
        department_id=opening.department_id,
        opened_at=min(opening.opened_at, now),  # another service's clock may run ahead
        next_step=first,
    )
    if not await cases.insert_case(conn, case, opening.dedupe_key):
        return None
    due = escalation.due_at(policy, case.opened_at, first)
    paging_now = due <= now
    opened = events.case_event_id(case.case_id, "opened")
    targets_now = list(policy.levels[0].targets) if paging_now else []
    fields = event_fields(case, now, level=0, targets=targets_now, reason=case.reason[:4000])
    await events.escalation(conn, events.OPENED, opened, fields)
    await cases.log(conn, case.case_id, LogEntry("opened", now, detail=case.reason[:1000]))
    metrics.CASES.labels(case.kind, "opened").inc()
    log.info("escalation.opened", case_id=str(case.case_id), kind=case.kind, policy=policy.name)
    if paging_now:
        await _page(conn, deps, case, first, due, fanout.Source(opened, events.OPENED))
        await move(conn, case, escalation.next_step(policy, "open", after=first))
    else:
        await move(conn, case, first)
    return case.case_id


async def fire_level(deps: Deps, conn: Conn, timer: Timer) -> None:
    """Timer ``escalation/<case id>``: page the step it was set for, if still due."""
    case = await cases.lock_case(conn, UUID(timer.key))
    step = Step(int(timer.payload["loop"]), int(timer.payload["level"]))
    if case is None or case.status == "closed" or case.next_step != step:
        return  # stale: the case moved on (acknowledged, closed) since the timer was set
    now = deps.clock()
    due = escalation.due_at(case.policy, case.opened_at, step)
    if escalation.applies(case.policy.levels[step.level].condition, case.status):
        event_id = events.case_event_id(case.case_id, f"step:{step.loop}:{step.level}")
        level_targets = list(case.policy.levels[step.level].targets)
        fields = event_fields(case, now, level=step.level, targets=level_targets, repeat=step.loop)
        await events.escalation(conn, events.ESCALATED, event_id, fields)
        await _page(conn, deps, case, step, due, fanout.Source(event_id, events.ESCALATED))
    await move(conn, case, escalation.next_step(case.policy, case.status, after=step))


async def _page(
    conn: Conn, deps: Deps, case: Case, step: Step, due: datetime, cause: fanout.Source
) -> None:
    now = deps.clock()
    level = case.policy.levels[step.level]
    found = targets.resolve(level.targets, await _facts(conn, case, level.targets))
    data = {
        **case.facts,
        "case_id": str(case.case_id),
        "case_kind": case.kind,
        "level": step.level,
        "loop": step.loop,
        "status": case.status,
        "reason": case.reason,
    }
    drafts = for_each(found.recipients, case.case_type.template, data, "urgent")
    source = replace(cause, rollout_id=case.rollout_id, case_id=case.case_id)
    await fanout.publish(conn, deps, source, drafts)
    entry = LogEntry("paged", now, step, due, level.targets, found.recipients, found.unresolved)
    await cases.log(conn, case.case_id, entry)
    metrics.ESCALATION_LATENESS.observe(max(0.0, (now - due).total_seconds()))
    metrics.CASES.labels(case.kind, "paged").inc()
    if not found.recipients:
        log.warning(
            "escalation.nobody_to_page",
            case_id=str(case.case_id),
            level=step.level,
            targets=list(level.targets),
        )


async def _facts(conn: Conn, case: Case, wanted: Sequence[str]) -> targets.Facts:
    """What resolving ``wanted`` needs from the directory and projections, and nothing more."""
    roles = targets.roles_needed(wanted)
    manager = head = owner = None
    if "manager:submitter" in wanted and case.submitter_id:
        manager = await directory.manager_of(conn, case.submitter_id)
    if "dept_head:submitter" in wanted and case.department_id:
        head = await directory.head_of(conn, case.department_id)
    if "rollout_owner" in wanted and case.rollout_id:
        rollout = await projections.rollout(conn, case.rollout_id)
        owner = rollout.owner_id if rollout else None
    named = [p for p in (manager, head, owner, *targets.staff_needed(wanted)) if p]
    return targets.Facts(
        role_members=await directory.role_members(conn, roles) if roles else {},
        submitter_manager=manager,
        submitter_dept_head=head,
        rollout_owner=owner,
        inactive=await directory.inactive_among(conn, named) if named else frozenset(),
    )


async def move(conn: Conn, case: Case, step: Step | None) -> None:
    """Make ``step`` the case's next step, and its timer match."""
    due = escalation.due_at(case.policy, case.opened_at, step) if step else None
    await cases.set_next(conn, case.case_id, step, due)
    if step is not None and due is not None:
        payload = {"loop": step.loop, "level": step.level}
        await scheduler.schedule(conn, ESCALATION_TIMER, str(case.case_id), due, payload)
    else:
        await scheduler.cancel(conn, ESCALATION_TIMER, str(case.case_id))


async def open_override(
    conn: Conn,
    deps: Deps,
    event_id: str,
    rollout: rules.Rollout,
    stage: int,
    actor: str,
    reason: str,
    outcome: str,
    at: datetime,
    *,
    completing: bool = False,
) -> None:
    """An admin overrode a gate (to advance, or to complete): the steering group reviews it."""
    facts = {
        "rollout_id": rollout.rollout_id,
        "rollout_name": rollout.name,
        "stage_index": stage,
        "actor": actor,
        "outcome": outcome,
        "completing": completing,
    }
    opening = Opening(
        kind="override",
        dedupe_key=f"override:{event_id}",
        reason=reason,
        facts=facts,
        opened_at=at,
        rollout_id=rollout.rollout_id,
        stage_index=stage,
    )
    await open_case(conn, deps, opening)
