"""Who a stage covers: resolving a cohort rule against the directory."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from services.rollout.domain.plan import CohortRule


class Person(NamedTuple):
    """A person as the directory knows them (a tuple: cohorts hold tens of thousands)."""

    staff_id: str
    department_id: str | None = None
    name: str = ""
    active: bool = True


def bucket(rollout_id: str, staff_id: str) -> float:
    """A stable position in [0, 100) per person and rollout.

    Stable, so that a growing percentage only ever adds people (10 % ⊂ 50 %); per rollout, so
    that the same people are not the pilots of every rollout.
    """
    digest = hashlib.sha256(f"{rollout_id}\x1f{staff_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


@dataclass(frozen=True, slots=True)
class _Selector:
    rollout_id: str
    departments: frozenset[str]
    staff: frozenset[str]
    percent: float | None

    def __call__(self, person: Person) -> bool:
        if person.staff_id in self.staff:
            return True
        if person.department_id is None or person.department_id not in self.departments:
            return False
        return self.percent is None or bucket(self.rollout_id, person.staff_id) < self.percent


def _selector(rule: CohortRule, rollout_id: str) -> _Selector:
    return _Selector(
        rollout_id, frozenset(rule.department_ids), frozenset(rule.staff_ids), rule.percent
    )


def selects(rule: CohortRule, rollout_id: str, person: Person) -> bool:
    return _selector(rule, rollout_id)(person)


def resolve(
    rule: CohortRule, rollout_id: str, candidates: Iterable[Person], exposed: Collection[str]
) -> list[Person]:
    """The active people ``rule`` selects who are not exposed yet, by staff id.

    A person belongs to the first stage that selects them, so earlier stages' members are
    left out: the cohort of a stage is the people it adds.
    """
    wanted = _selector(rule, rollout_id)
    chosen = {
        p.staff_id: p for p in candidates if p.active and p.staff_id not in exposed and wanted(p)
    }
    return [chosen[staff_id] for staff_id in sorted(chosen)]


def departments_of(people: Iterable[Person]) -> list[str]:
    return sorted({p.department_id for p in people if p.department_id is not None})
