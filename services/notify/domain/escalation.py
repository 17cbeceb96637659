"""Escalation policies and cases, with Opsgenie/PagerDuty semantics.

A policy is an ordered list of levels. Each level has a ``delay`` measured from the start of
the loop (the case's opening, for the first loop), a ``condition`` checked when the level comes
due, and targets. ``repeat`` runs the levels again ``times`` more, each loop starting
``after`` the last level of the previous one, for as long as the case stays open.

A case moves ``open → acknowledged → closed`` and never back. Because conditions only ever
become false as a case progresses, a level whose condition is false can be skipped as soon as
the status changes: :func:`next_step` therefore answers the next level that can still page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Condition = Literal["always", "if_not_acked", "if_not_resolved"]
Status = Literal["open", "acknowledged", "closed"]
CaseKind = Literal["issue", "guardrail", "override", "stalled"]

MAX_LEVELS = 10
MAX_REPEATS = 10
URGENT_SEVERITIES = frozenset({"high", "critical"})


@dataclass(frozen=True, slots=True)
class Level:
    delay: timedelta
    condition: Condition
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    times: int
    after: timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    repeat: Repeat | None = None
    description: str = ""

    @property
    def loop_length(self) -> timedelta:
        """From one loop's start to the next one's."""
        after = self.repeat.after if self.repeat else timedelta(0)
        return self.levels[-1].delay + after

    @property
    def loops(self) -> int:
        return 1 + (self.repeat.times if self.repeat else 0)


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One firing of a policy: level ``level`` of loop ``loop`` (loop 0 is the first pass)."""

    loop: int
    level: int


def problems(policy: Policy) -> list[str]:
    """Why a policy cannot be used (empty when it can)."""
    found: list[str] = []
    if not 1 <= len(policy.levels) <= MAX_LEVELS:
        found.append(f"a policy has 1 to {MAX_LEVELS} levels")
        return found
    delays = [level.delay for level in policy.levels]
    if any(d < timedelta(0) for d in delays):
        found.append("delays cannot be negative")
    if delays != sorted(delays):
        found.append("level delays must not decrease: each is measured from the loop's start")
    if any(not level.targets for level in policy.levels):
        found.append("every level needs at least one target")
    if policy.repeat is not None:
        if not 0 <= policy.repeat.times <= MAX_REPEATS:
            found.append(f"repeat.times is 0 to {MAX_REPEATS}")
        if policy.repeat.times and policy.loop_length <= timedelta(0):
            found.append("a repeating policy needs a loop longer than zero (repeat.after > 0)")
    return found


def applies(condition: Condition, status: Status) -> bool:
    """Whether a level with ``condition`` pages a case in ``status``."""
    if status == "closed":
        return False
    return condition != "if_not_acked" or status == "open"


def due_at(policy: Policy, opened_at: datetime, step: Step) -> datetime:
    return opened_at + step.loop * policy.loop_length + policy.levels[step.level].delay


def _steps_from(policy: Policy, start: Step | None, *, inclusive: bool) -> Iterator[Step]:
    for loop in range(policy.loops):
        for level in range(len(policy.levels)):
            step = Step(loop, level)
            if start is None or step > start or (inclusive and step == start):
                yield step


def next_step(
    policy: Policy, status: Status, *, after: Step | None = None, inclusive: bool = False
) -> Step | None:
    """The first step after ``after`` (from ``after`` itself when ``inclusive``; from the start
    when None) that can still page a case in ``status``."""
    for step in _steps_from(policy, after, inclusive=inclusive):
        if applies(policy.levels[step.level].condition, status):
            return step
    return None


def timeline(policy: Policy, opened_at: datetime, status: Status = "open") -> list[datetime]:
    """When each step that can page comes due, for a case that stays in ``status``."""
    times: list[datetime] = []
    step = next_step(policy, status)
    while step is not None:
        times.append(due_at(policy, opened_at, step))
        step = next_step(policy, status, after=step)
    return times


# --- cases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseType:
    policy: str  # the name of the escalation policy a case of this kind follows
    template: str  # the notification its levels send
    title: str


CASE_TYPES: Mapping[CaseKind, CaseType] = {
    "issue": CaseType("urgent-issue", "issue.reported", "urgent issue unanswered"),
    "guardrail": CaseType("guardrail-pause", "guardrail.tripped", "guardrail paused a rollout"),
    "override": CaseType("override", "override.recorded", "gate overridden by an admin"),
    "stalled": CaseType("stalled-stage", "stage.stalled", "stage gate not passing"),
}
POLICY_NAMES: tuple[str, ...] = tuple(t.policy for t in CASE_TYPES.values())


def opens_issue_case(kind: str, severity: str | None) -> bool:
    return kind == "issue" and severity in URGENT_SEVERITIES


def acknowledge(status: Status) -> Status | None:
    """The status after an acknowledgement, or None when nothing changes."""
    return "acknowledged" if status == "open" else None


def close(status: Status) -> Status | None:
    return "closed" if status != "closed" else None


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


DEFAULT_POLICIES: Mapping[str, Policy] = {
    "urgent-issue": Policy(
        "urgent-issue",
        (
            Level(timedelta(0), "always", ("role:it_support",)),
            Level(_minutes(30), "if_not_acked", ("role:it_support", "role:admin")),
            Level(_minutes(120), "if_not_acked", ("dept_head:submitter", "rollout_owner")),
            Level(_minutes(480), "if_not_resolved", ("role:admin", "manager:submitter")),
        ),
        Repeat(times=2, after=_minutes(480)),
        "High and critical issues: IT support at once, then IT leads, then the business.",
    ),
    "guardrail-pause": Policy(
        "guardrail-pause",
        (
            Level(timedelta(0), "always", ("rollout_owner", "role:admin")),
            Level(_minutes(60), "if_not_acked", ("role:approver",)),
        ),
        Repeat(times=3, after=_minutes(120)),
        "A guardrail paused a rollout: the owner and admins, then the steering group.",
    ),
    "override": Policy(
        "override",
        (
            Level(timedelta(0), "always", ("role:approver", "rollout_owner")),
            Level(_minutes(24 * 60), "if_not_acked", ("role:admin",)),
        ),
        None,
        "An admin advanced past a failing gate: the steering group reviews it.",
    ),
    "stalled-stage": Policy(
        "stalled-stage",
        (
            Level(timedelta(0), "always", ("rollout_owner",)),
            Level(_minutes(24 * 60), "if_not_resolved", ("role:admin",)),
        ),
        Repeat(times=2, after=_minutes(24 * 60)),
        "A stage's gate has not passed for longer than the stall deadline.",
    ),
}


# --- storage form (JSON): delays in seconds -----------------------------------------------


def to_json(policy: Policy) -> dict[str, Any]:
    return {
        "description": policy.description,
        "levels": [
            {
                "delay_s": level.delay.total_seconds(),
                "condition": level.condition,
                "targets": list(level.targets),
            }
            for level in policy.levels
        ],
        "repeat": None
        if policy.repeat is None
        else {"times": policy.repeat.times, "after_s": policy.repeat.after.total_seconds()},
    }


def from_json(name: str, doc: Mapping[str, Any]) -> Policy:
    repeat = doc.get("repeat")
    return Policy(
        name,
        tuple(
            Level(timedelta(seconds=lv["delay_s"]), lv["condition"], tuple(lv["targets"]))
            for lv in doc["levels"]
        ),
        None if repeat is None else Repeat(repeat["times"], timedelta(seconds=repeat["after_s"])),
        doc.get("description", ""),
    )
