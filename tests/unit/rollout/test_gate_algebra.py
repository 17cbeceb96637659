"""The gate algebra of DESIGN §3 as a decision table: every combination of criterion outcomes,
what the gate says, and what an advance does with it under each approval rule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from services.rollout.domain.advance import Verdict, decide
from services.rollout.domain.approvals import Tally, Vote
from services.rollout.domain.criteria import Criterion
from services.rollout.domain.gate import GateReport
from services.rollout.domain.outcomes import ORDER, Outcome, worst
from services.rollout.domain.plan import ApprovalRule

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
CRITERIA = ("satisfaction", "training", "blockers", "soak")
COMBINATIONS = list(itertools.product(ORDER, repeat=len(CRITERIA)))  # 5**4 = 625


def report(*outcomes: Outcome) -> GateReport:
    criteria = tuple(Criterion(name, o) for name, o in zip(CRITERIA, outcomes, strict=False))
    return GateReport(0, worst(outcomes), criteria, NOW)


def votes(approved: int = 0, rejected: int = 0) -> Tally:
    return Tally(
        approved=tuple(Vote(f"a{n}", "approve", NOW) for n in range(approved)),
        rejected=tuple(Vote(f"r{n}", "reject", NOW, "no") for n in range(rejected)),
    )


def test_the_order_is_the_one_of_the_design() -> None:
    assert ORDER == ("pass", "pending", "inconclusive", "error", "fail")


# A readable slice of the table; the exhaustive check follows.
@pytest.mark.parametrize(
    ("satisfaction", "training", "blockers", "soak", "gate"),
    [
        ("pass", "pass", "pass", "pass", "pass"),
        ("pass", "pass", "pass", "pending", "pending"),
        ("inconclusive", "pass", "pass", "pending", "inconclusive"),
        ("inconclusive", "error", "pass", "pass", "error"),
        ("pass", "fail", "error", "pending", "fail"),
        ("fail", "pass", "pass", "pass", "fail"),
        ("error", "pass", "inconclusive", "pass", "error"),
    ],
)
def test_the_gate_takes_the_worst_outcome(
    satisfaction: Outcome, training: Outcome, blockers: Outcome, soak: Outcome, gate: Outcome
) -> None:
    assert report(satisfaction, training, blockers, soak).outcome == gate


@pytest.mark.parametrize("outcomes", COMBINATIONS, ids="-".join)
def test_every_combination_yields_its_worst_member(outcomes: tuple[Outcome, ...]) -> None:
    gate = worst(outcomes)
    assert gate in outcomes
    assert all(ORDER.index(o) <= ORDER.index(gate) for o in outcomes)


def test_a_gate_without_criteria_passes() -> None:
    assert worst([]) == "pass"


def expected_action(outcomes: tuple[Outcome, ...], rule: ApprovalRule, approved: int) -> str:
    """The rules of DESIGN §3, written out once more as the table's oracle."""
    if any(o in ("pending", "error", "fail") for o in outcomes):
        return "refuse"  # approvals settle 'inconclusive' only, never a pending soak
    if "inconclusive" in outcomes:
        if rule.when == "never":
            return "refuse"
        return "advance" if approved >= rule.required else "await_approval"
    if rule.when == "always":
        return "advance" if approved >= rule.required else "await_approval"
    return "advance"


RULES = [
    ApprovalRule(required=0, when="never"),
    ApprovalRule(required=2, when="inconclusive"),
    ApprovalRule(required=1, when="always"),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.when}-{r.required}")
@pytest.mark.parametrize("approved", [0, 1, 2])
def test_advance_decision_for_every_combination(rule: ApprovalRule, approved: int) -> None:
    for outcomes in COMBINATIONS:
        verdict = decide(report(*outcomes), rule, votes(approved), override=False)
        assert verdict.action == expected_action(outcomes, rule, approved), outcomes
        assert not verdict.overridden


@pytest.mark.parametrize("outcomes", COMBINATIONS, ids="-".join)
def test_an_override_advances_whatever_the_gate_says(outcomes: tuple[Outcome, ...]) -> None:
    rule = ApprovalRule(required=1, when="inconclusive")
    verdict = decide(report(*outcomes), rule, votes(rejected=1), override=True)
    assert verdict.action == "advance"
    assert verdict.overridden  # the rejection alone makes it an override


def test_an_override_of_a_passing_gate_is_no_override() -> None:
    rule = ApprovalRule(required=1, when="inconclusive")
    verdict = decide(report("pass", "pass", "pass", "pass"), rule, votes(), override=True)
    assert verdict == Verdict("advance", "the gate passed", 0, overridden=False)


@pytest.mark.parametrize("gate", ["pass", "inconclusive"])
def test_a_rejection_blocks_even_with_enough_approvals(gate: Outcome) -> None:
    rule = ApprovalRule(required=1, when="always")
    verdict = decide(report(gate, "pass"), rule, votes(approved=3, rejected=1), override=False)
    assert verdict.action == "refuse"
    assert "rejected by r0" in verdict.reason


def test_the_refusal_names_every_obstacle() -> None:
    rule = ApprovalRule(required=2, when="inconclusive")
    verdict = decide(
        report("inconclusive", "pass", "pass", "pending"), rule, votes(1), override=False
    )
    assert verdict.action == "refuse"
    assert verdict.reason == "soak is pending; 1 of 2 approvals"
    assert verdict.approvals_required == 2


def test_approvals_are_not_asked_for_a_failing_gate() -> None:
    rule = ApprovalRule(required=2, when="inconclusive")
    verdict = decide(report("inconclusive", "fail"), rule, votes(), override=False)
    assert verdict == Verdict("refuse", "training is fail", 0)
