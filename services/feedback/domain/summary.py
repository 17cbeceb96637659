"""A rollout's feedback summary: satisfaction, NPS, issues and a per-department breakdown.

Departments with fewer than ``min_group_size`` respondents are hidden (k-anonymity). Because the
rollout-wide figures are shown too, hiding only the small groups could still let a reader work
out their answers by subtraction; so while the hidden groups together hold fewer than k
respondents, the smallest visible group is hidden as well.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.feedback.domain import cases
from services.feedback.domain.answers import Answer, latest_answers
from services.feedback.domain.submission import CSAT_RANGE, SEVERITIES, Severity

SATISFIED_FROM = 4  # CSAT 4 and 5 count as satisfied (DESIGN §3)
PROMOTERS_FROM, DETRACTORS_UP_TO = 9, 6  # NPS: 9 to 10 promote, 0 to 6 detract

Group = str | None  # a department id; None for feedback whose department is unknown


@dataclass(frozen=True, slots=True)
class Issue:
    department_id: Group
    severity: Severity
    submitted_at: datetime
    case: cases.Case


@dataclass(frozen=True, slots=True)
class Satisfaction:
    responses: int
    distribution: dict[int, int]  # every score from 1 to 5
    satisfied: int
    satisfied_share: float | None
    mean: float | None


@dataclass(frozen=True, slots=True)
class Nps:
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # from -100 to 100


@dataclass(frozen=True, slots=True)
class IssueStats:
    total: int
    by_status: dict[cases.Status, int]
    open_by_severity: dict[Severity, int]  # not resolved yet (open or acknowledged)
    median_seconds_to_acknowledge: float | None
    median_seconds_to_resolve: float | None
    acknowledge_sla_breaches: int
    resolve_sla_breaches: int


@dataclass(frozen=True, slots=True)
class DepartmentSummary:
    department_id: Group
    name: str | None
    respondents: int
    csat: Satisfaction
    nps: Nps
    issues: int
    open_issues: int
    comments: int


@dataclass(frozen=True, slots=True)
class Hidden:
    departments: int
    respondents: int


@dataclass(frozen=True, slots=True)
class Summary:
    min_group_size: int
    answers: int  # every survey answer, replaced ones included
    respondents: int  # one latest answer each
    csat: Satisfaction
    nps: Nps
    issues: IssueStats
    comments: int
    departments: list[DepartmentSummary]
    hidden: Hidden


def satisfaction(csat_scores: Iterable[int]) -> Satisfaction:
    scores = list(csat_scores)
    counts = Counter(scores)
    satisfied = sum(1 for score in scores if score >= SATISFIED_FROM)
    return Satisfaction(
        responses=len(scores),
        distribution={score: counts[score] for score in CSAT_RANGE},
        satisfied=satisfied,
        satisfied_share=satisfied / len(scores) if scores else None,
        mean=statistics.fmean(scores) if scores else None,
    )


def nps(nps_scores: Iterable[int]) -> Nps:
    scores = list(nps_scores)
    promoters = sum(1 for score in scores if score >= PROMOTERS_FROM)
    detractors = sum(1 for score in scores if score <= DETRACTORS_UP_TO)
    return Nps(
        responses=len(scores),
        promoters=promoters,
        passives=len(scores) - promoters - detractors,
        detractors=detractors,
        score=100 * (promoters - detractors) / len(scores) if scores else None,
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def issue_stats(issues: Collection[Issue], now: datetime) -> IssueStats:
    statuses = Counter(issue.case.status for issue in issues)
    unresolved = Counter(i.severity for i in issues if i.case.status != "resolved")
    to_ack = [
        (i.case.acknowledged_at - i.submitted_at).total_seconds()
        for i in issues
        if i.case.acknowledged_at is not None
    ]
    to_resolve = [
        (i.case.resolved_at - i.submitted_at).total_seconds()
        for i in issues
        if i.case.resolved_at is not None
    ]
    return IssueStats(
        total=len(issues),
        by_status={status: statuses[status] for status in cases.STATUSES},
        open_by_severity={severity: unresolved[severity] for severity in SEVERITIES},
        median_seconds_to_acknowledge=_median(to_ack),
        median_seconds_to_resolve=_median(to_resolve),
        acknowledge_sla_breaches=sum(cases.acknowledge_breached(i.case, now) for i in issues),
        resolve_sla_breaches=sum(cases.resolve_breached(i.case, now) for i in issues),
    )


def hidden_groups(sizes: Mapping[Group, int], k: int) -> set[Group]:
    """Groups to hide: those under ``k``, then the smallest others until the hidden groups
    together hold none or at least ``k`` (or nothing is left to show)."""
    hidden = {group for group, size in sizes.items() if size < k}

    def hidden_total() -> int:
        return sum(sizes[group] for group in hidden)

    while 0 < hidden_total() < k and len(hidden) < len(sizes):
        shown = [group for group in sizes if group not in hidden]
        hidden.add(min(shown, key=lambda g: (sizes[g], g is None, g or "")))
    return hidden


def summarize(
    answers: Iterable[Answer],
    issues: Iterable[Issue],
    comments: Mapping[Group, int],
    *,
    department_names: Mapping[str, str],
    min_group_size: int,
    now: datetime,
) -> Summary:
    """``answers`` are every survey answer in the period; the latest per respondent count."""
    every_answer = list(answers)
    latest = latest_answers(every_answer)
    all_issues = list(issues)
    by_group: dict[Group, list[Answer]] = {}
    for answer in latest:
        by_group.setdefault(answer.department_id, []).append(answer)
    groups = set(by_group) | {i.department_id for i in all_issues} | set(comments)
    sizes = {group: len(by_group.get(group, [])) for group in groups}
    hidden = hidden_groups(sizes, min_group_size)
    shown = sorted(groups - hidden, key=lambda g: (g is None, g or ""))
    return Summary(
        min_group_size=min_group_size,
        answers=len(every_answer),
        respondents=len(latest),
        csat=satisfaction(a.csat for a in latest if a.csat is not None),
        nps=nps(a.nps for a in latest if a.nps is not None),
        issues=issue_stats(all_issues, now),
        comments=sum(comments.values()),
        departments=[
            _department(g, by_group.get(g, []), all_issues, comments, department_names)
            for g in shown
        ],
        hidden=Hidden(departments=len(hidden), respondents=sum(sizes[g] for g in hidden)),
    )


def _department(
    group: Group,
    latest: list[Answer],
    issues: list[Issue],
    comments: Mapping[Group, int],
    names: Mapping[str, str],
) -> DepartmentSummary:
    mine = [issue for issue in issues if issue.department_id == group]
    return DepartmentSummary(
        department_id=group,
        name=names.get(group) if group is not None else None,
        respondents=len(latest),
        csat=satisfaction(a.csat for a in latest if a.csat is not None),
        nps=nps(a.nps for a in latest if a.nps is not None),
        issues=len(mine),
        open_issues=sum(1 for issue in mine if issue.case.status != "resolved"),
        comments=comments.get(group, 0),
    )
