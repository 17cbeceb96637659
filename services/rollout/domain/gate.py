"""Evaluating the gate of the current stage: every criterion, then the worst outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.rollout.domain import criteria
from services.rollout.domain.criteria import Criterion
from services.rollout.domain.evidence import (
    Issue,
    SatisfactionStats,
    Snapshot,
    open_blockers,
    satisfaction_stats,
)
from services.rollout.domain.outcomes import BLOCKING, Outcome, worst
from services.rollout.domain.plan import Plan, StageRule, TrainingRule


@dataclass(frozen=True, slots=True)
class GateReport:
    """The gate to leave ``stage`` (None: the start) as evaluated at ``evaluated_at``.

    ``satisfaction`` and ``blockers`` are measured whether or not the gate checks them, because
    the guardrails watch them too.
    """

    stage: int | None
    outcome: Outcome
    criteria: tuple[Criterion, ...]
    evaluated_at: datetime
    satisfaction: SatisfactionStats | None = None
    blockers: tuple[Issue, ...] = ()

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.criteria if c.name == name), None)

    @property
    def blocking(self) -> tuple[Criterion, ...]:
        """Criteria no approval can settle: pending, error, fail."""
        return tuple(c for c in self.criteria if c.outcome in BLOCKING)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f"{c.name}: {line}" for c in self.criteria for line in c.missing)


def evaluate(plan: Plan, snapshot: Snapshot, now: datetime) -> GateReport:
    if snapshot.stage is None:
        return _start_gate(plan, snapshot, now)
    rule = plan.stages[snapshot.stage]
    assert snapshot.started_at is not None, "a running stage has a start time"
    stats = satisfaction_stats(snapshot, rule.confidence)
    blocking = open_blockers(snapshot.issues, rule.blocker_severity, snapshot.exposed)
    found: list[Criterion] = []
    if rule.gate.satisfaction is not None:
        found.append(criteria.satisfaction(rule.gate.satisfaction, stats))
    following = plan.stage(snapshot.stage + 1)
    if rule.gate.training is not None and following is not None:
        found.append(_training(rule.gate.training, following, snapshot))
    if rule.gate.blockers is not None:
        found.append(criteria.blockers(rule.gate.blockers.max_open, blocking))
    found.append(criteria.soak(rule.min_soak, snapshot.started_at, now))
    return GateReport(
        stage=snapshot.stage,
        outcome=worst(c.outcome for c in found),
        criteria=tuple(found),
        evaluated_at=now,
        satisfaction=stats,
        blockers=tuple(blocking),
    )


def _start_gate(plan: Plan, snapshot: Snapshot, now: datetime) -> GateReport:
    """Starting is advancing from 'not started' to stage 0: its gate is the first cohort's
    readiness (nobody is exposed yet, so there is nothing to be satisfied or blocked by)."""
    rule = plan.start_gate.training
    found = [] if rule is None else [_training(rule, plan.stages[0], snapshot)]
    return GateReport(None, worst(c.outcome for c in found), tuple(found), now)


def _training(rule: TrainingRule, following: StageRule, snapshot: Snapshot) -> Criterion:
    return criteria.training(
        rule,
        snapshot.next_cohort or (),
        following.required_course_ids,
        snapshot.completions,
        snapshot,
    )
