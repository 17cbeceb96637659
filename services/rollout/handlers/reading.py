"""Reading the evidence of a rollout's current gate, and evaluating it."""

from __future__ import annotations

from datetime import datetime

from services.rollout.domain import advance, approvals, cohorts, gate, guardrails
from services.rollout.domain.approvals import Tally
from services.rollout.domain.cohorts import Person
from services.rollout.domain.evidence import Answer, Issue, Snapshot
from services.rollout.domain.lifecycle import Rollout
from services.rollout.domain.plan import ApprovalRule
from services.rollout.handlers.views import GateView
from services.rollout.metrics import GATE_SECONDS
from services.rollout.repository import projections, rollouts, trail
from shared.db import Conn

# Starting goes through the same rules, without approvals (its gate, training, cannot be
# inconclusive): pass starts, anything else needs an override.
START_APPROVALS = ApprovalRule(required=0, when="never")


async def snapshot(conn: Conn, rollout: Rollout) -> Snapshot:
    """Everything the gate of ``rollout``'s current stage looks at."""
    members = await rollouts.members(conn, rollout.rollout_id)
    exposed = [person for _, person in members]
    current = [person for stage, person in members if stage == rollout.stage]
    following = await next_cohort(conn, rollout, {p.staff_id for p in exposed})
    next_index = rollout.next_index
    courses = [] if next_index is None else rollout.plan.stages[next_index].required_course_ids
    started = rollout.started_at
    answers: list[Answer] = []
    issues: list[Issue] = []
    if rollout.stage is not None and started is not None:
        answers = await projections.answers(conn, rollout.rollout_id, started)
        issues = await projections.unresolved_issues(conn, rollout.rollout_id)
    people = [*exposed, *(following or ())]
    return Snapshot(
        rollout_id=rollout.rollout_id,
        stage=rollout.stage,
        started_at=started,
        cohort=current,
        exposed=exposed,
        next_cohort=following,
        completions=await projections.completions(
            conn, [p.staff_id for p in following or ()], courses
        ),
        answers=answers,
        issues=issues,
        department_names=await projections.department_names(conn, cohorts.departments_of(people)),
    )


async def next_cohort(conn: Conn, rollout: Rollout, exposed: set[str]) -> list[Person] | None:
    index = rollout.next_index
    if index is None:
        return None
    rule = rollout.plan.stages[index].cohort
    found = await projections.candidates(conn, rule.department_ids, rule.staff_ids)
    return cohorts.resolve(rule, rollout.rollout_id, found, exposed)


async def view(conn: Conn, rollout: Rollout, now: datetime, *, requester: str | None) -> GateView:
    """Evaluate the gate and what an advance asked for by ``requester`` would do."""
    with GATE_SECONDS.time():
        evidence = await snapshot(conn, rollout)
        report = gate.evaluate(rollout.plan, evidence, now)
    votes = await tally(conn, rollout, requester)
    rule = rollout.stage_rule
    verdict = advance.decide(
        report, START_APPROVALS if rule is None else rule.approval, votes, override=False
    )
    found = () if rule is None else tuple(guardrails.breaches(rule.guardrails, report))
    return GateView(rollout, evidence, report, votes, verdict, found)


async def tally(conn: Conn, rollout: Rollout, requester: str | None) -> Tally:
    if rollout.stage is None:
        return Tally()
    votes = await trail.votes(conn, rollout.rollout_id, rollout.epoch)
    return approvals.tally(votes, owner_id=rollout.owner_id, requester=requester)
