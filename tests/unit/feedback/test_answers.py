"""One survey answer per respondent and rollout: the newest by answer time counts."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain.answers import Answer, latest_answers, superseded_by

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _answer(key: str, minutes: int, csat: int = 3, fid: int | None = None) -> Answer:
    feedback_id = uuid.UUID(int=fid) if fid is not None else uuid.uuid4()
    return Answer(feedback_id, key, T0 + timedelta(minutes=minutes), csat=csat)


_answers = st.lists(
    st.builds(
        _answer,
        key=st.sampled_from(["k1", "k2", "k3"]),
        minutes=st.integers(0, 10),
        csat=st.integers(1, 5),
        fid=st.integers(0, 2**64),
    ),
    max_size=25,
    unique_by=lambda a: a.feedback_id,
)


@given(answers=_answers)
def test_one_answer_per_respondent_the_newest(answers: list[Answer]) -> None:
    latest = latest_answers(answers)
    assert [a.respondent_key for a in latest] == sorted({a.respondent_key for a in answers})
    for kept in latest:
        mine = [a for a in answers if a.respondent_key == kept.respondent_key]
        assert all(
            (a.submitted_at, a.feedback_id) <= (kept.submitted_at, kept.feedback_id) for a in mine
        )


@given(answers=_answers, seed=st.randoms(use_true_random=False))
def test_arrival_order_does_not_matter(answers: list[Answer], seed: random.Random) -> None:
    shuffled = list(answers)
    seed.shuffle(shuffled)
    assert latest_answers(shuffled) == latest_answers(answers)


@given(answers=_answers)
def test_exactly_the_latest_answers_are_not_superseded(answers: list[Answer]) -> None:
    latest = {a.feedback_id for a in latest_answers(answers)}
    current = {a.feedback_id for a in answers if superseded_by(a, answers) is None}
    assert current == latest


def test_a_late_delivery_of_an_older_answer_does_not_replace_the_newer() -> None:
    newer, older = _answer("k", minutes=10, csat=5), _answer("k", minutes=1, csat=1)
    assert latest_answers([newer, older]) == [newer]
    assert superseded_by(older, [newer, older]) == newer.feedback_id
    assert superseded_by(newer, [newer, older]) is None


def test_the_feedback_id_breaks_a_tie_in_time() -> None:
    low, high = _answer("k", 0, fid=1), _answer("k", 0, fid=2)
    assert latest_answers([high, low]) == [high]


@pytest.mark.parametrize("others", [[], [_answer("other", 99)]], ids=["alone", "with-others"])
def test_other_respondents_never_supersede(others: list[Answer]) -> None:
    mine = _answer("k", 0)
    assert superseded_by(mine, [mine, *others]) is None
