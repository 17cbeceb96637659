"""The issue lifecycle: open → acknowledged → resolved, SLA due times and breaches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.domain import cases
from services.feedback.domain.cases import (
    Acknowledged,
    Case,
    Change,
    IllegalTransition,
    Resolved,
    SlaTargets,
    Status,
)
from services.feedback.domain.submission import Severity

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=20)
SLA = SlaTargets(
    acknowledge={
        "critical": timedelta(minutes=15),
        "high": timedelta(hours=1),
        "medium": timedelta(hours=4),
        "low": timedelta(days=1),
    },
    resolve={
        "critical": timedelta(hours=4),
        "high": timedelta(days=1),
        "medium": timedelta(days=3),
        "low": timedelta(days=10),
    },
)


def _case(status: Status) -> Case:
    case = cases.open_case("high", T0, SLA)
    if status in ("acknowledged", "resolved"):
        case = cases.acknowledge(case, "it-1", T0).case
    if status == "resolved":
        case = cases.resolve(case, "it-1", "fixed", T0).case
    return case


Command = Callable[[Case], Change]
RESOLVED = Resolved("it-2", "Reset the VPN profile.", LATER)


def acknowledge_later(case: Case) -> Change:
    return cases.acknowledge(case, "it-2", LATER)


def resolve_later(case: Case) -> Change:
    return cases.resolve(case, "it-2", " Reset the VPN profile. ", LATER)


@pytest.mark.parametrize(
    ("status", "command", "after", "transitions"),
    [
        ("open", acknowledge_later, "acknowledged", [Acknowledged("it-2", LATER)]),
        (
            "open",
            resolve_later,
            "resolved",
            [Acknowledged("it-2", LATER), RESOLVED],
        ),
        ("acknowledged", resolve_later, "resolved", [RESOLVED]),
        ("acknowledged", acknowledge_later, None, []),
        ("resolved", acknowledge_later, None, []),
        ("resolved", resolve_later, None, []),
    ],
    ids=[
        "open-acknowledge",
        "open-resolve",
        "acknowledged-resolve",
        "acknowledged-acknowledge",
        "resolved-acknowledge",
        "resolved-resolve",
    ],
)
def test_transitions(
    status: Status, command: Command, after: Status | None, transitions: list[cases.Transition]
) -> None:
    before = _case(status)
    if after is None:
        with pytest.raises(IllegalTransition):
            command(before)
        return
    change = command(before)
    assert change.case.status == after
    assert list(change.transitions) == transitions


def test_resolving_an_open_issue_acknowledges_it_at_the_same_moment() -> None:
    resolved = resolve_later(_case("open")).case
    assert (resolved.acknowledged_at, resolved.acknowledged_by) == (LATER, "it-2")
    assert (resolved.resolved_at, resolved.resolved_by) == (LATER, "it-2")
    assert resolved.resolution == "Reset the VPN profile."


def test_resolving_keeps_the_earlier_acknowledgement() -> None:
    resolved = resolve_later(_case("acknowledged")).case
    assert (resolved.acknowledged_at, resolved.acknowledged_by) == (T0, "it-1")


@pytest.mark.parametrize("resolution", ["", "   \n"])
def test_a_resolution_needs_a_text(resolution: str) -> None:
    with pytest.raises(ValueError, match="needs a text"):
        cases.resolve(_case("acknowledged"), "it-1", resolution, LATER)


@pytest.mark.parametrize("kind", ["survey", "comment"])
def test_only_issues_have_a_case(kind: str) -> None:
    with pytest.raises(IllegalTransition):
        cases.require_issue(kind)  # type: ignore[arg-type]
    cases.require_issue("issue")


@pytest.mark.parametrize(
    ("severity", "ack_in", "resolve_in"),
    [
        ("critical", timedelta(minutes=15), timedelta(hours=4)),
        ("high", timedelta(hours=1), timedelta(days=1)),
        ("medium", timedelta(hours=4), timedelta(days=3)),
        ("low", timedelta(days=1), timedelta(days=10)),
    ],
)
def test_sla_due_times_follow_severity(
    severity: Severity, ack_in: timedelta, resolve_in: timedelta
) -> None:
    case = cases.open_case(severity, T0, SLA)
    assert (case.status, case.ack_due_at, case.resolve_due_at) == (
        "open",
        T0 + ack_in,
        T0 + resolve_in,
    )


@pytest.mark.parametrize(
    ("acknowledged_after", "now_after", "breached"),
    [
        (None, timedelta(minutes=59), False),  # still within the hour
        (None, timedelta(minutes=61), True),  # waiting past its due time
        (timedelta(minutes=30), timedelta(days=9), False),  # answered in time
        (timedelta(minutes=90), timedelta(minutes=91), True),  # answered late
    ],
)
def test_acknowledgement_breach(
    acknowledged_after: timedelta | None, now_after: timedelta, breached: bool
) -> None:
    case = cases.open_case("high", T0, SLA)
    if acknowledged_after is not None:
        case = cases.acknowledge(case, "it-1", T0 + acknowledged_after).case
    assert cases.acknowledge_breached(case, T0 + now_after) is breached


@pytest.mark.parametrize(
    ("resolved_after", "now_after", "breached"),
    [
        (None, timedelta(hours=23), False),
        (None, timedelta(hours=25), True),
        (timedelta(hours=2), timedelta(days=30), False),
        (timedelta(hours=30), timedelta(days=30), True),
    ],
)
def test_resolution_breach(
    resolved_after: timedelta | None, now_after: timedelta, breached: bool
) -> None:
    case = cases.open_case("high", T0, SLA)
    if resolved_after is not None:
        case = cases.resolve(case, "it-1", "done", T0 + resolved_after).case
    assert cases.resolve_breached(case, T0 + now_after) is breached
