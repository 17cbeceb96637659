"""Wilson score bounds against published values, and the properties the gate relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rollout.domain.stats import wilson, z_score


# Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (score, no correction).
@pytest.mark.parametrize(
    ("successes", "n", "lower", "upper"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_matches_newcombes_published_intervals(
    successes: int, n: int, lower: float, upper: float
) -> None:
    low, high = wilson(successes, n, 0.95)
    assert (round(low, 4), round(high, 4)) == (lower, upper)


def test_z_scores() -> None:
    assert z_score(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_score(0.90) == pytest.approx(1.644854, abs=1e-6)
    assert z_score(0.99) == pytest.approx(2.575829, abs=1e-6)


def test_small_pilots() -> None:
    """The numbers a pilot of a handful of people hits (and the docs quote)."""
    assert wilson(3, 3) == pytest.approx((0.4385, 1.0), abs=1e-4)
    assert wilson(4, 4) == pytest.approx((0.5101, 1.0), abs=1e-4)
    assert wilson(0, 4) == pytest.approx((0.0, 0.4899), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_no_answers_say_nothing() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("successes", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson(successes, n)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_refuses_impossible_confidence(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson(1, 2, confidence)


counts = st.integers(min_value=0, max_value=2000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)
confidences = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@given(counts, confidences)
def test_bounds_are_ordered_and_inside_the_unit_interval(
    count: tuple[int, int], confidence: float
) -> None:
    successes, n = count
    lower, upper = wilson(successes, n, confidence)
    assert 0.0 <= lower <= upper <= 1.0
    if n:
        assert lower <= successes / n + 1e-12 <= upper + 2e-12


@given(counts, confidences)
def test_another_satisfied_answer_never_lowers_the_lower_bound(
    count: tuple[int, int], confidence: float
) -> None:
    successes, n = count
    assert wilson(successes + 1, n + 1, confidence)[0] >= wilson(successes, n, confidence)[0]


@given(counts, confidences)
def test_another_unhappy_answer_never_raises_the_upper_bound(
    count: tuple[int, int], confidence: float
) -> None:
    successes, n = count
    assert wilson(successes, n + 1, confidence)[1] <= wilson(successes, n, confidence)[1]


@given(counts.filter(lambda c: c[1] > 0))
def test_more_confidence_never_narrows_the_interval(count: tuple[int, int]) -> None:
    narrow, wide = wilson(*count, 0.9), wilson(*count, 0.99)
    assert wide[0] <= narrow[0] + 1e-12
    assert wide[1] >= narrow[1] - 1e-12
