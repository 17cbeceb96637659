"""Escalation policies as timelines: levels, delays, conditions and repeat (fake clock: the
opening time is a parameter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.domain import escalation
from services.notify.domain.escalation import (
    DEFAULT_POLICIES,
    Condition,
    Level,
    Policy,
    Repeat,
    Status,
    Step,
    applies,
    due_at,
    next_step,
    problems,
    timeline,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


CONDITIONS: tuple[Condition, ...] = ("always", "if_not_acked", "if_not_resolved")


def policy(*levels: tuple[float, Condition], repeat: tuple[int, float] | None = None) -> Policy:
    return Policy(
        "p",
        tuple(Level(m(delay), condition, ("role:it_support",)) for delay, condition in levels),
        Repeat(repeat[0], m(repeat[1])) if repeat else None,
    )


@pytest.mark.parametrize(
    ("condition", "status", "pages"),
    [
        ("always", "open", True),
        ("always", "acknowledged", True),
        ("always", "closed", False),
        ("if_not_acked", "open", True),
        ("if_not_acked", "acknowledged", False),
        ("if_not_acked", "closed", False),
        ("if_not_resolved", "open", True),
        ("if_not_resolved", "acknowledged", True),
        ("if_not_resolved", "closed", False),
    ],
)
def test_conditions(condition: Condition, status: Status, pages: bool) -> None:
    assert applies(condition, status) is pages


THREE_LEVELS = policy((0, "always"), (5, "if_not_acked"), (30, "if_not_resolved"))


@pytest.mark.parametrize(
    ("subject", "status", "minutes"),
    [
        (THREE_LEVELS, "open", [0, 5, 30]),
        (THREE_LEVELS, "acknowledged", [0, 30]),
        (THREE_LEVELS, "closed", []),
        # repeat: each loop starts `after` the previous loop's last level
        (
            policy((0, "always"), (10, "if_not_acked"), repeat=(2, 20)),
            "open",
            [0, 10, 30, 40, 60, 70],
        ),
        (
            policy((0, "if_not_acked"), (10, "if_not_acked"), repeat=(2, 20)),
            "acknowledged",
            [],
        ),
        (
            policy((0, "always"), (10, "if_not_resolved"), repeat=(1, 5)),
            "acknowledged",
            [0, 10, 15, 25],
        ),
        (policy((15, "if_not_acked")), "open", [15]),
        (policy((0, "always"), (0, "always")), "open", [0, 0]),
        (policy((0, "always"), repeat=(0, 60)), "open", [0]),
    ],
    ids=[
        "open",
        "acked-skips-if-not-acked",
        "closed-pages-nothing",
        "repeat",
        "acked-repeat-of-if-not-acked",
        "acked-repeat-keeps-if-not-resolved",
        "delayed-first-level",
        "simultaneous-levels",
        "repeat-zero-times",
    ],
)
def test_timelines(subject: Policy, status: Status, minutes: list[float]) -> None:
    assert timeline(subject, T0, status) == [T0 + m(n) for n in minutes]


def test_acknowledging_skips_to_the_next_level_that_can_still_page() -> None:
    pending = Step(0, 1)  # due next when the case is acknowledged
    assert next_step(THREE_LEVELS, "acknowledged", after=pending, inclusive=True) == Step(0, 2)
    assert next_step(THREE_LEVELS, "open", after=pending, inclusive=True) == pending
    assert next_step(THREE_LEVELS, "open", after=pending) == Step(0, 2)
    assert next_step(THREE_LEVELS, "open", after=Step(0, 2)) is None


def test_due_times_of_a_repeating_policy() -> None:
    subject = policy((0, "always"), (10, "if_not_acked"), repeat=(3, 20))
    assert subject.loop_length == m(30)
    assert subject.loops == 4
    assert due_at(subject, T0, Step(2, 1)) == T0 + m(70)


@pytest.mark.parametrize(
    ("subject", "complaint"),
    [
        (Policy("p", ()), "1 to 10 levels"),
        (policy(*[(n, "always") for n in range(11)]), "1 to 10 levels"),
        (policy((10, "always"), (5, "always")), "must not decrease"),
        (policy((-1, "always")), "negative"),
        (Policy("p", (Level(m(0), "always", ()),)), "at least one target"),
        (policy((0, "always"), repeat=(11, 5)), "repeat.times"),
        (policy((0, "always"), repeat=(2, 0)), "loop longer than zero"),
    ],
)
def test_problems(subject: Policy, complaint: str) -> None:
    assert any(complaint in p for p in problems(subject))


@pytest.mark.parametrize("name", sorted(DEFAULT_POLICIES))
def test_default_policies_are_valid_and_start_at_once(name: str) -> None:
    default = DEFAULT_POLICIES[name]
    assert default.name == name
    assert problems(default) == []
    assert timeline(default, T0)[0] == T0  # the first level pages when the case opens


def test_every_case_kind_has_a_default_policy() -> None:
    assert {t.policy for t in escalation.CASE_TYPES.values()} == set(DEFAULT_POLICIES)


@pytest.mark.parametrize(
    ("kind", "severity", "opens"),
    [
        ("issue", "critical", True),
        ("issue", "high", True),
        ("issue", "medium", False),
        ("issue", "low", False),
        ("issue", None, False),
        ("issue", "High", False),
        ("survey", "critical", False),
        ("comment", "high", False),
    ],
)
def test_which_issues_open_a_case(kind: str, severity: str | None, opens: bool) -> None:
    assert escalation.opens_issue_case(kind, severity) is opens


@pytest.mark.parametrize(
    ("status", "acked", "closed"),
    [("open", "acknowledged", "closed"), ("acknowledged", None, "closed"), ("closed", None, None)],
)
def test_case_status_only_moves_forward(
    status: Status, acked: str | None, closed: str | None
) -> None:
    assert escalation.acknowledge(status) == acked
    assert escalation.close(status) == closed


_levels = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=600),
        st.sampled_from(CONDITIONS),
    ),
    min_size=1,
    max_size=6,
).map(lambda pairs: sorted(pairs, key=lambda p: p[0]))
_repeat = st.none() | st.tuples(st.integers(0, 4), st.integers(1, 120))


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(levels=_levels, repeat=_repeat, status=st.sampled_from(["open", "acknowledged"]))
def test_timeline_properties(
    levels: list[tuple[int, Condition]], repeat: tuple[int, int] | None, status: Status
) -> None:
    subject = policy(*levels, repeat=repeat)
    assert problems(subject) == []
    times = timeline(subject, T0, status)
    assert times == sorted(times)  # levels never page out of order
    loops = 1 + (repeat[0] if repeat else 0)
    pageable = sum(1 for _, c in levels if applies(c, status))
    assert len(times) == pageable * loops  # each level of each loop at most once
    assert set(timeline(subject, T0, "acknowledged")) <= set(timeline(subject, T0, "open"))


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(levels=_levels, repeat=_repeat)
def test_storage_round_trip(
    levels: list[tuple[int, Condition]], repeat: tuple[int, int] | None
) -> None:
    subject = policy(*levels, repeat=repeat)
    assert escalation.from_json("p", escalation.to_json(subject)) == subject
