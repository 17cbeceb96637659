"""Guardrails: when a running stage pauses itself, and what a resume acknowledges."""

from __future__ import annotations

from datetime import UTC, datetime

from services.rollout.domain.evidence import Issue, SatisfactionStats
from services.rollout.domain.gate import GateReport
from services.rollout.domain.guardrails import (
    acknowledge,
    breaches,
    still_acknowledged,
    tripped,
)
from services.rollout.domain.plan import Guardrails
from services.rollout.domain.stats import wilson

NOW = datetime(2027, 3, 1, tzinfo=UTC)
RULES = Guardrails(satisfaction_floor=0.5, blocker_count=2)


def report(satisfied: int, responses: int, blockers: int = 0) -> GateReport:
    lower, upper = wilson(satisfied, responses)
    stats = SatisfactionStats(20, responses, satisfied, lower, upper)
    issues = tuple(Issue(f"i-{n}", "high", "open", None, "fin") for n in range(blockers))
    return GateReport(0, "inconclusive", (), NOW, stats, issues)


def test_nothing_breached() -> None:
    assert breaches(RULES, report(3, 4, blockers=1)) == []
    assert breaches(Guardrails(), report(0, 20, blockers=9)) == []


def test_three_unhappy_answers_are_not_yet_a_verdict_four_are() -> None:
    assert breaches(RULES, report(0, 3)) == []  # upper bound 56 %
    (breach,) = breaches(RULES, report(0, 4))  # upper bound 49 %
    assert breach.guardrail == "satisfaction_floor"
    assert breach.reason == "at most 49% of 4 respondents are satisfied, below the 50% floor"


def test_blockers_at_the_count_pause() -> None:
    (breach,) = breaches(RULES, report(5, 5, blockers=2))
    assert (breach.guardrail, breach.value, breach.limit) == ("blocker_count", 2.0, 2.0)


def test_a_breach_pauses_until_a_resume_acknowledges_it() -> None:
    found = breaches(RULES, report(0, 4, blockers=2))
    assert tripped(found, {}) == found[0]
    acknowledged = acknowledge(found)
    assert tripped(found, acknowledged) is None


def test_an_acknowledged_breach_that_gets_worse_pauses_again() -> None:
    acknowledged = acknowledge(breaches(RULES, report(0, 4, blockers=2)))
    worse_blockers = breaches(RULES, report(0, 4, blockers=3))
    assert tripped(worse_blockers, acknowledged) == worse_blockers[1]
    worse_mood = breaches(RULES, report(0, 6, blockers=2))
    assert tripped(worse_mood, acknowledged) == worse_mood[0]
    better_mood = breaches(RULES, report(1, 6, blockers=1))
    assert tripped(better_mood, acknowledged) is None


def test_a_guardrail_that_cleared_forgets_its_acknowledgement() -> None:
    acknowledged = acknowledge(breaches(RULES, report(0, 4, blockers=2)))
    cleared = breaches(RULES, report(0, 4, blockers=0))
    kept = still_acknowledged(cleared, acknowledged)
    assert kept == {"satisfaction_floor": acknowledged["satisfaction_floor"]}
    again = breaches(RULES, report(0, 4, blockers=2))
    assert tripped(again, kept) == again[1]  # breached anew: pauses
