"""The facts a gate decision is made on, and the statistics drawn from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.rollout.domain.cohorts import Person
from services.rollout.domain.plan import SEVERITY_RANK, Severity
from services.rollout.domain.stats import wilson

SATISFIED_CSAT = 4
NO_DEPARTMENT = "(no department)"


@dataclass(frozen=True, slots=True)
class Answer:
    """A survey answer with a CSAT score. ``respondent`` is stable per person and rollout."""

    respondent: str
    staff_id: str | None
    department_id: str | None
    csat: int
    submitted_at: datetime

    @property
    def satisfied(self) -> bool:
        return self.csat >= SATISFIED_CSAT


@dataclass(frozen=True, slots=True)
class Issue:
    feedback_id: str
    severity: Severity
    status: str  # open | acknowledged | resolved
    staff_id: str | None
    department_id: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one evaluation looks at, read in one transaction.

    ``stage`` is None before the start. ``cohort`` holds the current stage's members (as frozen
    when it started; inactive ones included), ``exposed`` every member of stages so far, and
    ``next_cohort`` the people the next stage would add, resolved now (None after the last).
    """

    rollout_id: str
    stage: int | None
    started_at: datetime | None
    cohort: Sequence[Person] = ()
    exposed: Sequence[Person] = ()
    next_cohort: Sequence[Person] | None = None
    completions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    answers: Sequence[Answer] = ()
    issues: Sequence[Issue] = ()
    department_names: Mapping[str, str] = field(default_factory=dict)

    def department_name(self, department_id: str | None) -> str:
        if department_id is None:
            return NO_DEPARTMENT
        return self.department_names.get(department_id, department_id)


@dataclass(frozen=True, slots=True)
class DepartmentLine:
    """One department's part in a criterion. ``missing`` is what it still lacks: responses
    (satisfaction) or trained people (training)."""

    department_id: str | None
    name: str
    members: int
    responses: int = 0
    satisfied: int = 0
    trained: int = 0
    missing: int = 0


@dataclass(frozen=True, slots=True)
class SatisfactionStats:
    members: int
    responses: int
    satisfied: int
    lower: float
    upper: float
    departments: tuple[DepartmentLine, ...] = ()

    @property
    def share(self) -> float | None:
        return self.satisfied / self.responses if self.responses else None

    @property
    def rate(self) -> float:
        return min(1.0, self.responses / self.members) if self.members else 0.0


def counted_answers(
    cohort: Sequence[Person], answers: Iterable[Answer], since: datetime
) -> dict[str, tuple[Answer, str | None]]:
    """Respondent → (latest answer since ``since``, department) for answers from ``cohort``.

    A named answer counts when its author is a member; an anonymous one (no staff id) when it
    comes from a department the cohort's members belong to: anonymity hides who, not where.
    """
    department_of = {p.staff_id: p.department_id for p in cohort if p.active}
    departments = {d for d in department_of.values() if d is not None}
    latest: dict[str, tuple[Answer, str | None]] = {}
    for answer in answers:
        if answer.submitted_at < since:
            continue
        if answer.staff_id is not None:
            if answer.staff_id not in department_of:
                continue
            department = department_of[answer.staff_id]
        elif answer.department_id in departments:
            department = answer.department_id
        else:
            continue
        known = latest.get(answer.respondent)
        if known is None or known[0].submitted_at <= answer.submitted_at:
            latest[answer.respondent] = (answer, department)
    return latest


def satisfaction_stats(snapshot: Snapshot, confidence: float) -> SatisfactionStats:
    assert snapshot.started_at is not None, "satisfaction is measured within a running stage"
    active = [p for p in snapshot.cohort if p.active]
    counted = counted_answers(active, snapshot.answers, snapshot.started_at)
    members = Counter(p.department_id for p in active)
    responses = Counter(department for _, department in counted.values())
    satisfied = Counter(department for answer, department in counted.values() if answer.satisfied)
    lines = tuple(
        DepartmentLine(
            department_id=d,
            name=snapshot.department_name(d),
            members=members[d],
            responses=responses[d],
            satisfied=satisfied[d],
        )
        for d in sorted(members, key=lambda d: snapshot.department_name(d))
    )
    total_satisfied = sum(satisfied.values())
    lower, upper = wilson(total_satisfied, len(counted), confidence)
    return SatisfactionStats(len(active), len(counted), total_satisfied, lower, upper, lines)


def open_blockers(
    issues: Iterable[Issue], min_severity: Severity, exposed: Sequence[Person]
) -> list[Issue]:
    """Unresolved issues at or above ``min_severity`` from the exposed population: named ones
    from its members, anonymous ones from its departments."""
    staff = {p.staff_id for p in exposed}
    departments = {p.department_id for p in exposed if p.department_id is not None}
    floor = SEVERITY_RANK[min_severity]
    return sorted(
        (
            issue
            for issue in issues
            if issue.status != "resolved"
            and SEVERITY_RANK[issue.severity] >= floor
            and (
                issue.staff_id in staff
                if issue.staff_id is not None
                else issue.department_id in departments
            )
        ),
        key=lambda issue: (-SEVERITY_RANK[issue.severity], issue.feedback_id),
    )


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties to the first)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares
