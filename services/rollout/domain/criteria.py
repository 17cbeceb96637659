"""The four gate criteria of DESIGN §3. Each turns evidence into one outcome and says why."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.rollout.domain.cohorts import Person
from services.rollout.domain.evidence import (
    DepartmentLine,
    Issue,
    SatisfactionStats,
    Snapshot,
    allocate,
)
from services.rollout.domain.outcomes import Outcome
from services.rollout.domain.plan import SatisfactionRule, TrainingRule

_EPSILON = 1e-9  # 0.1 * 30 is 3.0000000000000004: shares meet thresholds up to rounding


@dataclass(frozen=True, slots=True)
class Untrained:
    staff_id: str
    name: str
    department_id: str | None
    missing_course_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion as evaluated. ``missing`` says, in words, what would move it forward."""

    name: str
    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    sample_size: int | None = None
    lower: float | None = None
    upper: float | None = None
    detail: str = ""
    missing: tuple[str, ...] = ()
    departments: tuple[DepartmentLine, ...] = ()
    untrained: tuple[Untrained, ...] = ()
    blocker_ids: tuple[str, ...] = ()
    ready_at: datetime | None = None


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def responses_needed(rule: SatisfactionRule, stats: SatisfactionStats) -> int:
    by_rate = math.ceil(rule.min_response_rate * stats.members - _EPSILON)
    return max(rule.min_responses - stats.responses, by_rate - stats.responses, 0)


def satisfaction(rule: SatisfactionRule, stats: SatisfactionStats) -> Criterion:
    """Wilson bounds of the satisfied share (CSAT >= 4) against the threshold, once enough of
    the cohort answered."""
    measured = Criterion(
        "satisfaction",
        "inconclusive",
        value=stats.share,
        threshold=rule.threshold,
        sample_size=stats.responses,
        lower=stats.lower,
        upper=stats.upper,
    )
    if stats.members == 0:
        return replace(measured, outcome="error", detail="the stage's cohort has no active members")
    needed = responses_needed(rule, stats)
    lines = _with_missing_responses(stats.departments, needed)
    if needed:
        wanted = ", ".join(f"{line.missing} from {line.name}" for line in lines if line.missing)
        short = f"{needed} more responses needed" + (
            f": {wanted}" if wanted else f" (the cohort has only {stats.members} members)"
        )
        detail = f"{stats.responses} of {stats.members} answered; {short}"
        return replace(measured, detail=detail, missing=(short,), departments=lines)
    bounds = f"{_pct(stats.lower)} to {_pct(stats.upper)} satisfied ({_pct(rule.confidence)} conf.)"
    threshold = f"the {_pct(rule.threshold)} threshold"
    if stats.lower + _EPSILON >= rule.threshold:
        return replace(
            measured, outcome="pass", detail=f"{bounds}, at or above {threshold}", departments=lines
        )
    if stats.upper + _EPSILON < rule.threshold:
        return replace(
            measured, outcome="fail", detail=f"{bounds}, below {threshold}", departments=lines
        )
    detail = f"{bounds}, which straddles {threshold}"
    return replace(
        measured,
        detail=detail,
        missing=(f"{detail}: more responses would settle it",),
        departments=lines,
    )


def _with_missing_responses(
    lines: Sequence[DepartmentLine], needed: int
) -> tuple[DepartmentLine, ...]:
    silent = [max(line.members - line.responses, 0) for line in lines]
    shares = allocate(needed, silent)
    return tuple(
        DepartmentLine(
            line.department_id,
            line.name,
            line.members,
            line.responses,
            line.satisfied,
            missing=share,
        )
        for line, share in zip(lines, shares, strict=True)
    )


def training(
    rule: TrainingRule,
    cohort: Sequence[Person],
    course_ids: Sequence[str],
    completions: Mapping[str, frozenset[str]],
    snapshot: Snapshot,
) -> Criterion:
    """The share of the next cohort who completed every course its stage requires."""
    if not cohort:
        return Criterion(
            "training",
            "error",
            threshold=rule.min_completion,
            sample_size=0,
            detail="the next cohort has no active members in the directory",
        )
    untrained = [
        Untrained(p.staff_id, p.name, p.department_id, missing)
        for p in cohort
        if (missing := tuple(c for c in course_ids if c not in completions.get(p.staff_id, ())))
    ]
    share = 1 - len(untrained) / len(cohort)
    outcome: Outcome = "pass" if share + _EPSILON >= rule.min_completion else "fail"
    lines = _training_lines(cohort, untrained, snapshot)
    detail = f"{_pct(share)} of {len(cohort)} trained (at least {_pct(rule.min_completion)} needed)"
    words: tuple[str, ...] = ()
    if untrained:
        by_department = ", ".join(
            f"{line.missing} in {line.name}" for line in lines if line.missing
        )
        per_course = Counter(c for person in untrained for c in person.missing_course_ids)
        by_course = ", ".join(f"{course} ({n})" for course, n in sorted(per_course.items()))
        words = (
            f"{len(untrained)} staff of the next cohort lack a required course: {by_department}",
            f"courses to complete: {by_course}",
        )
    ordered = sorted(
        untrained, key=lambda u: (snapshot.department_name(u.department_id), u.name, u.staff_id)
    )
    return Criterion(
        "training",
        outcome,
        value=share,
        threshold=rule.min_completion,
        sample_size=len(cohort),
        detail=detail,
        missing=words,
        departments=lines,
        untrained=tuple(ordered),
    )


def _training_lines(
    cohort: Sequence[Person], untrained: Sequence[Untrained], snapshot: Snapshot
) -> tuple[DepartmentLine, ...]:
    members = Counter(p.department_id for p in cohort)
    lacking = Counter(u.department_id for u in untrained)
    return tuple(
        DepartmentLine(
            d,
            snapshot.department_name(d),
            members[d],
            trained=members[d] - lacking[d],
            missing=lacking[d],
        )
        for d in sorted(members, key=snapshot.department_name)
    )


def blockers(max_open: int, blocking: Sequence[Issue]) -> Criterion:
    count = len(blocking)
    outcome: Outcome = "pass" if count <= max_open else "fail"
    detail = f"{count} open blocker(s), at most {max_open} allowed"
    missing = (f"resolve {count - max_open} more blocker(s)",) if outcome == "fail" else ()
    return Criterion(
        "blockers",
        outcome,
        value=float(count),
        threshold=float(max_open),
        sample_size=count,
        detail=detail,
        missing=missing,
        blocker_ids=tuple(issue.feedback_id for issue in blocking),
    )


def soak(min_soak: timedelta, started_at: datetime, now: datetime) -> Criterion:
    elapsed = now - started_at
    ready_at = started_at + min_soak
    outcome: Outcome = "pass" if elapsed >= min_soak else "pending"
    detail = f"{_duration(elapsed)} in stage, at least {_duration(min_soak)} required"
    missing = (f"wait until {ready_at.isoformat()}",) if outcome == "pending" else ()
    return Criterion(
        "soak",
        outcome,
        value=max(elapsed.total_seconds(), 0.0),
        threshold=min_soak.total_seconds(),
        detail=detail,
        missing=missing,
        ready_at=ready_at,
    )


def _duration(span: timedelta) -> str:
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = ((days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s"))
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"
