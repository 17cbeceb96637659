"""Each gate criterion on hand-made evidence: satisfaction, training, blockers, soak."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rollout.domain import criteria
from services.rollout.domain.cohorts import Person
from services.rollout.domain.evidence import (
    Answer,
    Issue,
    Snapshot,
    allocate,
    counted_answers,
    open_blockers,
    satisfaction_stats,
)
from services.rollout.domain.plan import SatisfactionRule, TrainingRule

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LATER = START + timedelta(days=1)
NAMES = {"fin": "Finance", "law": "Legal"}


def people(department: str, count: int, *, active: bool = True) -> list[Person]:
    return [
        Person(f"{department}-{n}", department, f"{department} {n}", active) for n in range(count)
    ]


def answer(
    staff_id: str | None,
    csat: int,
    *,
    department: str | None = None,
    at: datetime = LATER,
    respondent: str | None = None,
) -> Answer:
    return Answer(respondent or f"key-{staff_id}", staff_id, department, csat, at)


def snapshot(cohort: Sequence[Person], answers: Sequence[Answer] = ()) -> Snapshot:
    return Snapshot("r-1", 0, START, cohort=cohort, answers=answers, department_names=NAMES)


def satisfaction(
    cohort: list[Person],
    answers: list[Answer],
    *,
    threshold: float = 0.7,
    min_responses: int = 3,
    min_response_rate: float = 0.3,
) -> criteria.Criterion:
    rule = SatisfactionRule(
        threshold=threshold, min_responses=min_responses, min_response_rate=min_response_rate
    )
    return criteria.satisfaction(rule, satisfaction_stats(snapshot(cohort, answers), 0.95))


# --- satisfaction ---------------------------------------------------------------------------

FINANCE = people("fin", 10)


@pytest.mark.parametrize(
    ("scores", "outcome"),
    [
        ([5, 5], "inconclusive"),  # fewer than min_responses
        ([5] * 10, "pass"),  # 10/10: lower bound 72 %
        ([1] * 5, "fail"),  # 0/5: upper bound 43 %
        ([5, 5, 5, 4], "inconclusive"),  # 4/4: 51 % to 100 %, straddles 70 %
        ([4, 4, 4, 4, 4, 4, 4, 4, 3, 3], "inconclusive"),  # 8/10: 49 % to 94 %
        ([3] * 10, "fail"),  # CSAT 3 is not satisfied: 0/10
    ],
)
def test_satisfaction_outcomes(scores: list[int], outcome: str) -> None:
    answers = [answer(p.staff_id, s) for p, s in zip(FINANCE, scores, strict=False)]
    assert satisfaction(FINANCE, answers).outcome == outcome


def test_a_low_response_rate_is_inconclusive_whatever_the_answers() -> None:
    answers = [answer(p.staff_id, 5) for p in FINANCE[:4]]
    result = satisfaction(FINANCE, answers, min_response_rate=0.5, threshold=0.3)
    assert result.outcome == "inconclusive"
    assert result.missing == ("1 more responses needed: 1 from Finance",)


def test_bounds_value_and_sample_size_are_reported() -> None:
    answers = [answer(p.staff_id, 5 if n < 8 else 2) for n, p in enumerate(FINANCE)]
    result = satisfaction(FINANCE, answers)
    assert result.value == pytest.approx(0.8)
    assert result.sample_size == 10
    assert result.threshold == 0.7
    assert result.lower == pytest.approx(0.4902, abs=1e-4)
    assert result.upper == pytest.approx(0.9433, abs=1e-4)


def test_a_cohort_nobody_of_which_is_in_the_directory_is_an_error() -> None:
    result = satisfaction(people("fin", 3, active=False), [])
    assert result.outcome == "error"


def test_the_missing_responses_are_named_per_department() -> None:
    cohort = people("fin", 12) + people("law", 4)
    answers = [answer("fin-0", 5), answer("law-0", 5)]
    result = satisfaction(cohort, answers, min_responses=8, min_response_rate=0.1)
    assert result.outcome == "inconclusive"
    assert result.missing == ("6 more responses needed: 5 from Finance, 1 from Legal",)
    assert [(d.name, d.members, d.responses, d.missing) for d in result.departments] == [
        ("Finance", 12, 1, 5),
        ("Legal", 4, 1, 1),
    ]


def test_an_unreachable_minimum_says_so() -> None:
    cohort = people("fin", 2)
    answers = [answer(p.staff_id, 5) for p in cohort]
    result = satisfaction(cohort, answers, min_responses=5)
    assert result.missing == ("3 more responses needed (the cohort has only 2 members)",)


def test_which_answers_count() -> None:
    cohort = people("fin", 3)
    answers = [
        answer("fin-0", 1, at=START - timedelta(seconds=1)),  # before the stage: ignored
        answer("fin-1", 1),
        answer("fin-1", 5, at=LATER + timedelta(hours=1)),  # latest per respondent wins
        answer("law-0", 5),  # named, not a member: ignored
        answer(None, 4, department="fin", respondent="anon-1"),  # anonymous from Finance
        answer(None, 1, department="law", respondent="anon-2"),  # anonymous, elsewhere
        answer(None, 2, department=None, respondent="anon-3"),  # anonymous, no department
    ]
    counted = counted_answers(cohort, answers, START)
    assert {key: (a.csat, dept) for key, (a, dept) in counted.items()} == {
        "key-fin-1": (5, "fin"),
        "anon-1": (4, "fin"),
    }


def test_answers_of_inactive_members_do_not_count() -> None:
    cohort = [Person("fin-0", "fin"), Person("fin-1", "fin", active=False)]
    counted = counted_answers(cohort, [answer("fin-0", 5), answer("fin-1", 5)], START)
    assert list(counted) == ["key-fin-0"]


@given(
    st.lists(st.integers(min_value=1, max_value=5), min_size=0, max_size=30),
    st.integers(min_value=1, max_value=5),
)
def test_one_more_satisfied_answer_never_lowers_the_lower_bound(
    scores: list[int], extra: int
) -> None:
    cohort = people("fin", 40)
    answers = [answer(p.staff_id, s) for p, s in zip(cohort, scores, strict=False)]
    before = satisfaction_stats(snapshot(cohort, answers), 0.95)
    happier = [*answers, answer(cohort[len(scores)].staff_id, 4 + extra % 2)]
    after = satisfaction_stats(snapshot(cohort, happier), 0.95)
    assert after.lower >= before.lower


# --- training -------------------------------------------------------------------------------


def training(
    cohort: list[Person], done: dict[str, set[str]], courses: tuple[str, ...] = ("crm", "sso")
) -> criteria.Criterion:
    return criteria.training(
        TrainingRule(min_completion=0.8),
        cohort,
        courses,
        {k: frozenset(v) for k, v in done.items()},
        snapshot([]),
    )


def test_training_share_and_who_lacks_what() -> None:
    cohort = people("fin", 4) + people("law", 1)
    done = {"fin-0": {"crm", "sso"}, "fin-1": {"crm", "sso"}, "fin-2": {"crm"}, "law-0": {"sso"}}
    result = training(cohort, done)
    assert result.outcome == "fail"
    assert result.value == pytest.approx(0.4)
    assert result.sample_size == 5
    assert [(u.staff_id, u.missing_course_ids) for u in result.untrained] == [
        ("fin-2", ("sso",)),
        ("fin-3", ("crm", "sso")),
        ("law-0", ("crm",)),
    ]
    assert result.missing == (
        "3 staff of the next cohort lack a required course: 2 in Finance, 1 in Legal",
        "courses to complete: crm (2), sso (2)",
    )


def test_training_passes_at_the_threshold() -> None:
    cohort = people("fin", 5)
    done = {p.staff_id: {"crm", "sso"} for p in cohort[:4]}
    assert training(cohort, done).outcome == "pass"  # 4/5 = 80 %


def test_no_required_courses_means_everyone_is_ready() -> None:
    result = training(people("fin", 3), {}, courses=())
    assert (result.outcome, result.value) == ("pass", 1.0)


def test_an_empty_next_cohort_is_an_error() -> None:
    assert training([], {}).outcome == "error"


trained_sets = st.sets(st.sampled_from(["crm", "sso"]))


@given(st.lists(trained_sets, min_size=1, max_size=20), trained_sets)
def test_adding_someone_untrained_never_raises_the_training_share(
    done: list[set[str]], newcomer: set[str]
) -> None:
    cohort = people("fin", len(done) + 1)
    completions = {p.staff_id: d for p, d in zip(cohort, done, strict=False)}
    before = training(cohort[:-1], completions).value
    completions[cohort[-1].staff_id] = newcomer
    after = training(cohort, completions).value
    assert before is not None
    assert after is not None
    if newcomer >= {"crm", "sso"}:
        assert after >= before  # a trained newcomer never lowers it
    else:
        assert after <= before


# --- blockers and soak ----------------------------------------------------------------------


def test_open_blockers_come_from_the_exposed_population() -> None:
    exposed = people("fin", 2)
    issues = [
        Issue("i-1", "critical", "open", "fin-0", "fin"),
        Issue("i-2", "high", "acknowledged", "fin-1", "fin"),  # acknowledged is still open
        Issue("i-3", "high", "resolved", "fin-1", "fin"),
        Issue("i-4", "medium", "open", "fin-0", "fin"),  # below the severity
        Issue("i-5", "critical", "open", "law-0", "law"),  # not exposed
        Issue("i-6", "high", "open", None, "fin"),  # anonymous from an exposed department
        Issue("i-7", "critical", "open", None, "law"),  # anonymous from elsewhere
    ]
    found = open_blockers(issues, "high", exposed)
    assert [i.feedback_id for i in found] == ["i-1", "i-2", "i-6"]
    assert criteria.blockers(2, found).outcome == "fail"
    assert criteria.blockers(3, found).outcome == "pass"
    assert criteria.blockers(3, found).blocker_ids == ("i-1", "i-2", "i-6")


def test_soak() -> None:
    soak = timedelta(hours=2)
    pending = criteria.soak(soak, START, START + timedelta(hours=1, minutes=59))
    assert pending.outcome == "pending"
    assert pending.ready_at == START + soak
    assert pending.detail == "1 h 59 min in stage, at least 2 h required"
    assert criteria.soak(soak, START, START + soak).outcome == "pass"


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (6, [11, 3], [5, 1]),
        (3, [1, 1, 1], [1, 1, 1]),
        (2, [1, 1, 1], [1, 1, 0]),
        (5, [0, 0], [0, 0]),
        (0, [4, 2], [0, 0]),
    ],
)
def test_allocate(total: int, weights: list[int], shares: list[int]) -> None:
    assert allocate(total, weights) == shares
