"""Escalation targets (``role:<r>``, ``manager:submitter``, ``dept_head:submitter``,
``rollout_owner``, ``staff:<id>``) and how they resolve to people."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_ROLE = re.compile(r"^role:([a-z][a-z0-9_]{0,63})$")
_STAFF = re.compile(r"^staff:(\S{1,200})$")
FIXED = ("manager:submitter", "dept_head:submitter", "rollout_owner")


def check(target: str) -> str:
    """The target unchanged, or ValueError saying what is accepted."""
    if target in FIXED or _ROLE.match(target) or _STAFF.match(target):
        return target
    raise ValueError(
        f"unknown target {target[:80]!r}: use role:<role>, manager:submitter, "
        "dept_head:submitter, rollout_owner or staff:<staff id>"
    )


def roles_needed(targets: Iterable[str]) -> list[str]:
    """The roles whose members a handler must look up to resolve ``targets``."""
    return sorted({m.group(1) for t in targets if (m := _ROLE.match(t))})


def staff_needed(targets: Iterable[str]) -> list[str]:
    return sorted({m.group(1) for t in targets if (m := _STAFF.match(t))})


@dataclass(frozen=True, slots=True)
class Facts:
    """What the directory and the projections know about a case, looked up by the handler."""

    role_members: Mapping[str, Sequence[str]] = field(default_factory=dict)
    submitter_manager: str | None = None
    submitter_dept_head: str | None = None
    rollout_owner: str | None = None
    inactive: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Resolution:
    recipients: tuple[str, ...]
    unresolved: tuple[str, ...]  # targets that named nobody (e.g. anonymous submitter's manager)


def resolve(targets: Sequence[str], facts: Facts) -> Resolution:
    """Each target's people, minus inactive staff; distinct and sorted."""
    found: set[str] = set()
    unresolved: list[str] = []
    for target in targets:
        people = {p for p in _people(target, facts) if p not in facts.inactive}
        if not people:
            unresolved.append(target)
        found |= people
    return Resolution(tuple(sorted(found)), tuple(unresolved))


def _people(target: str, facts: Facts) -> set[str]:
    if role := _ROLE.match(target):
        return set(facts.role_members.get(role.group(1), ()))
    if staff := _STAFF.match(target):
        return {staff.group(1)}
    single = {
        "manager:submitter": facts.submitter_manager,
        "dept_head:submitter": facts.submitter_dept_head,
        "rollout_owner": facts.rollout_owner,
    }.get(target)
    return {single} if single else set()
