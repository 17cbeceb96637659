"""The training reminder ladder for the next cohort.

When a stage starts, the cohort of the stage after it must get trained. Reminder ``k`` goes out
at ``offsets[k]`` after the stage started to everyone still missing a required course; past the
configured offsets the last gap repeats, up to ``max_count`` reminders. One gap after the last
reminder, each manager gets one digest listing their reports who are still untrained. A person
stops getting reminders the moment they complete their last missing course.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from services.notify.domain.notifications import Draft

COUNTS_AS_DONE = frozenset({"completed", "passed"})


def step_offsets(offsets: Sequence[timedelta], max_count: int) -> list[timedelta]:
    """When each step comes due after the stage started: the reminders, then the digest."""
    if not offsets or max_count < 1:
        return []
    times = sorted(offsets)[:max_count]
    gap = times[-1] - times[-2] if len(times) > 1 else times[-1]
    gap = max(gap, timedelta(hours=1))  # equal offsets must not fire everything at once
    while len(times) < max_count:
        times.append(times[-1] + gap)
    return [*times, times[-1] + gap]


def is_digest_step(step: int, max_count: int) -> bool:
    return step >= max_count


def missing_courses(
    members: Iterable[str], required: Sequence[str], done: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Each member still lacking a required course, with what they lack."""
    gaps: dict[str, list[str]] = {}
    for member in sorted(set(members)):
        have = set(done.get(member, ()))
        lacking = [course for course in required if course not in have]
        if lacking:
            gaps[member] = lacking
    return gaps


def reminders(
    gaps: Mapping[str, Sequence[str]], context: Mapping[str, Any], step: int, max_count: int
) -> list[Draft]:
    return [
        Draft(
            person,
            "training.reminder",
            "normal",
            {**context, "missing_courses": list(lacking), "reminder": step + 1, "of": max_count},
        )
        for person, lacking in sorted(gaps.items())
    ]


def manager_digests(
    gaps: Mapping[str, Sequence[str]],
    managers: Mapping[str, str | None],
    names: Mapping[str, str],
    context: Mapping[str, Any],
) -> list[Draft]:
    """One draft per manager, listing their untrained reports (people without a known manager
    are left out: there is nobody to tell)."""
    reports: dict[str, list[dict[str, Any]]] = {}
    for person, lacking in sorted(gaps.items()):
        manager = managers.get(person)
        if manager and manager != person:
            entry = {
                "staff_id": person,
                "name": names.get(person, person),
                "missing": list(lacking),
            }
            reports.setdefault(manager, []).append(entry)
    return [
        Draft(manager, "training.manager_digest", "normal", {**context, "reports": listed})
        for manager, listed in sorted(reports.items())
    ]
