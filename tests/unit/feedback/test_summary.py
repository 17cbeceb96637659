"""The rollout summary: satisfaction, NPS, issue figures and k-anonymous department groups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain import cases
from services.feedback.domain.answers import Answer
from services.feedback.domain.submission import Severity
from services.feedback.domain.summary import (
    Group,
    Issue,
    hidden_groups,
    issue_stats,
    nps,
    satisfaction,
    summarize,
)

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SLA = cases.SlaTargets(
    acknowledge=dict.fromkeys(("low", "medium", "high", "critical"), timedelta(hours=1)),
    resolve=dict.fromkeys(("low", "medium", "high", "critical"), timedelta(days=1)),
)

# --- k-anonymity ---------------------------------------------------------------------------------

_sizes = st.dictionaries(
    st.none() | st.sampled_from(["fin", "hr", "it", "ops", "legal", "sales"]),
    st.integers(0, 12),
    max_size=6,
)


@given(sizes=_sizes, k=st.integers(1, 8))
def test_every_shown_group_has_at_least_k(sizes: dict[Group, int], k: int) -> None:
    hidden = hidden_groups(sizes, k)
    assert all(size >= k for group, size in sizes.items() if group not in hidden)


@given(sizes=_sizes, k=st.integers(1, 8))
def test_hidden_groups_cannot_be_recovered_by_subtraction(sizes: dict[Group, int], k: int) -> None:
    """The total minus the shown groups is what the hidden ones hold together: that must be
    nothing or at least k, unless nothing is shown at all (then the total is all there is)."""
    hidden = hidden_groups(sizes, k)
    together = sum(sizes[group] for group in hidden)
    assert together == 0 or together >= k or hidden == set(sizes)


@given(sizes=_sizes, k=st.integers(1, 8))
def test_only_what_must_be_hidden_is_hidden(sizes: dict[Group, int], k: int) -> None:
    """Beyond the small groups, at most the groups needed to reach k are added."""
    hidden = hidden_groups(sizes, k)
    small = {group for group, size in sizes.items() if size < k}
    assert small <= hidden
    if hidden - small:
        extra = min(hidden - small, key=lambda g: sizes[g])
        without = sum(sizes[g] for g in hidden) - sizes[extra]
        assert without < k


@pytest.mark.parametrize(
    ("sizes", "hidden"),
    [
        ({"fin": 5, "hr": 7}, set()),
        ({"fin": 4, "hr": 7}, {"fin", "hr"}),  # hr alone would give fin away by subtraction
        ({"fin": 4, "hr": 7, "it": 9}, {"fin", "hr"}),
        ({"fin": 2, "hr": 3, "it": 9}, {"fin", "hr"}),  # together they reach 5
        ({"fin": 0, "hr": 6}, {"fin"}),  # nobody to protect in fin
        ({"fin": 3}, {"fin"}),
        ({None: 4, "fin": 6, "hr": 6}, {None, "fin"}),  # ties: a named group before "unknown"
    ],
)
def test_hidden_groups_examples(sizes: dict[Group, int], hidden: set[Group]) -> None:
    assert hidden_groups(sizes, 5) == hidden


# --- satisfaction and NPS ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "distribution", "satisfied", "share", "mean"),
    [
        ([], {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}, 0, None, None),
        ([5, 4, 3, 1], {1: 1, 2: 0, 3: 1, 4: 1, 5: 1}, 2, 0.5, 3.25),
        ([4, 4, 4], {1: 0, 2: 0, 3: 0, 4: 3, 5: 0}, 3, 1.0, 4.0),
    ],
)
def test_satisfaction(
    scores: list[int],
    distribution: dict[int, int],
    satisfied: int,
    share: float | None,
    mean: float | None,
) -> None:
    found = satisfaction(scores)
    assert (found.responses, found.distribution) == (len(scores), distribution)
    assert (found.satisfied, found.satisfied_share, found.mean) == (satisfied, share, mean)


@pytest.mark.parametrize(
    ("scores", "promoters", "passives", "detractors", "score"),
    [
        ([], 0, 0, 0, None),
        ([10, 9, 8, 7, 6, 0], 2, 2, 2, 0.0),
        ([10, 10, 10, 0], 3, 0, 1, 50.0),
        ([6, 5], 0, 0, 2, -100.0),
    ],
)
def test_nps(
    scores: list[int], promoters: int, passives: int, detractors: int, score: float | None
) -> None:
    found = nps(scores)
    assert (found.promoters, found.passives, found.detractors, found.score) == (
        promoters,
        passives,
        detractors,
        score,
    )


# --- issues --------------------------------------------------------------------------------------


def _issue(
    severity: Severity = "high",
    *,
    department: Group = "fin",
    acked_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
) -> Issue:
    case = cases.open_case(severity, T0, SLA)
    if acked_after is not None:
        case = cases.acknowledge(case, "it-1", T0 + acked_after).case
    if resolved_after is not None:
        case = cases.resolve(case, "it-1", "fixed", T0 + resolved_after).case
    return Issue(department, severity, T0, case)


def test_issue_stats() -> None:
    stats = issue_stats(
        [
            _issue("critical"),
            _issue("critical", acked_after=timedelta(minutes=10)),
            _issue("low", acked_after=timedelta(minutes=30), resolved_after=timedelta(hours=2)),
            _issue("high", resolved_after=timedelta(hours=30)),  # acknowledged when resolved
        ],
        now=T0 + timedelta(hours=36),
    )
    assert stats.total == 4
    assert stats.by_status == {"open": 1, "acknowledged": 1, "resolved": 2}
    assert stats.open_by_severity == {"low": 0, "medium": 0, "high": 0, "critical": 2}
    assert stats.median_seconds_to_acknowledge == 30 * 60
    assert stats.median_seconds_to_resolve == (2 + 30) / 2 * 3600
    assert stats.acknowledge_sla_breaches == 2  # the open one (waiting 36 h) and the 30 h one
    assert stats.resolve_sla_breaches == 3


def test_no_issues_no_medians() -> None:
    stats = issue_stats([], now=T0)
    assert stats.median_seconds_to_acknowledge is None
    assert stats.median_seconds_to_resolve is None


# --- the whole summary ---------------------------------------------------------------------------


def _answers(department: Group, csat_scores: list[int], *, prefix: str = "") -> list[Answer]:
    return [
        Answer(uuid.uuid4(), f"{prefix}{department}-{n}", T0, department, csat=score)
        for n, score in enumerate(csat_scores)
    ]


def test_summary_counts_the_latest_answer_of_each_respondent_and_hides_small_groups() -> None:
    finance = _answers("fin", [5, 5, 4, 2, 1, 3])
    replaced = Answer(uuid.uuid4(), "fin-0", T0 - timedelta(days=1), "fin", csat=1)
    hr = _answers("hr", [4, 4, 4, 4, 4])
    legal = _answers("legal", [1, 1])
    ops = _answers("ops", [3, 2, 5])  # with legal, 5 hidden respondents: none can be singled out
    summary = summarize(
        [*finance, replaced, *hr, *legal, *ops],
        [_issue(department="legal"), _issue(department="fin", resolved_after=timedelta(hours=1))],
        {"fin": 2, None: 1},
        department_names={"fin": "Finance", "hr": "Human resources"},
        min_group_size=5,
        now=T0 + timedelta(hours=2),
    )
    assert (summary.answers, summary.respondents) == (17, 16)
    assert summary.csat.distribution == {1: 3, 2: 2, 3: 2, 4: 6, 5: 3}
    assert summary.csat.satisfied == 9
    assert summary.comments == 3
    assert [(d.department_id, d.name, d.respondents) for d in summary.departments] == [
        ("fin", "Finance", 6),
        ("hr", "Human resources", 5),
    ]
    finance_row = summary.departments[0]
    assert (finance_row.issues, finance_row.open_issues, finance_row.comments) == (1, 0, 2)
    assert finance_row.csat.satisfied_share == 0.5
    # legal, ops and the unknown department (a comment, nobody answered) are hidden
    assert (summary.hidden.departments, summary.hidden.respondents) == (3, 5)


def test_a_group_that_would_give_a_small_one_away_is_hidden_too() -> None:
    summary = summarize(
        _answers("fin", [5] * 6) + _answers("hr", [4] * 5) + _answers("legal", [1, 1]),
        [],
        {},
        department_names={},
        min_group_size=5,
        now=T0,
    )
    # Showing hr would leave legal's two answers as "total minus finance minus hr".
    assert [d.department_id for d in summary.departments] == ["fin"]
    assert (summary.hidden.departments, summary.hidden.respondents) == (2, 7)


def test_with_only_small_groups_everything_is_hidden_but_the_totals() -> None:
    summary = summarize(
        _answers("fin", [5, 4]) + _answers("hr", [1]),
        [],
        {},
        department_names={},
        min_group_size=5,
        now=T0,
    )
    assert summary.departments == []
    assert (summary.hidden.departments, summary.hidden.respondents) == (2, 3)
    assert summary.respondents == 3
