"""Cohort resolution: departments, named staff, and a stable percentage by hashing staff id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rollout.domain.cohorts import Person, bucket, resolve, selects
from services.rollout.domain.plan import CohortRule

STAFF = [Person(f"s-{n:05}", "fin" if n % 2 else "law") for n in range(10_000)]


def rule(**fields: object) -> CohortRule:
    return CohortRule.model_validate(fields)


def test_buckets_are_stable_and_in_range() -> None:
    assert bucket("r-1", "s-1") == bucket("r-1", "s-1")
    assert all(0 <= bucket("r-1", p.staff_id) < 100 for p in STAFF[:1000])


def test_each_rollout_picks_its_own_pilots() -> None:
    first = {
        p.staff_id for p in resolve(rule(department_ids=["fin"], percent=10), "r-1", STAFF, ())
    }
    second = {
        p.staff_id for p in resolve(rule(department_ids=["fin"], percent=10), "r-2", STAFF, ())
    }
    assert len(first & second) < len(first) / 4  # about 10 % overlap, by chance only


def test_a_percentage_takes_about_that_share() -> None:
    chosen = resolve(rule(department_ids=["fin"], percent=30), "r-1", STAFF, ())
    assert 1400 <= len(chosen) <= 1600  # 30 % of 5,000
    assert {p.department_id for p in chosen} == {"fin"}


@given(st.floats(min_value=0.01, max_value=100), st.floats(min_value=0.01, max_value=100))
def test_a_larger_percentage_only_ever_adds_people(a: float, b: float) -> None:
    low, high = sorted((a, b))
    people = STAFF[:500]
    smaller = resolve(rule(department_ids=["fin", "law"], percent=low), "r-9", people, ())
    larger = resolve(rule(department_ids=["fin", "law"], percent=high), "r-9", people, ())
    assert {p.staff_id for p in smaller} <= {p.staff_id for p in larger}


def test_named_staff_are_in_whatever_the_percentage() -> None:
    outsider = Person("boss", "board")
    chosen = resolve(
        rule(department_ids=["fin"], staff_ids=["boss"], percent=0.01),
        "r-1",
        [outsider, *STAFF[:10]],
        (),
    )
    assert "boss" in {p.staff_id for p in chosen}


def test_inactive_and_already_exposed_people_are_left_out() -> None:
    people = [Person("a", "fin"), Person("b", "fin", active=False), Person("c", "fin")]
    assert [p.staff_id for p in resolve(rule(department_ids=["fin"]), "r-1", people, {"c"})] == [
        "a"
    ]


@pytest.mark.parametrize(
    ("person", "selected"),
    [
        (Person("x", "fin"), True),
        (Person("x", "law"), False),
        (Person("x", None), False),
        (Person("named", None), True),
    ],
)
def test_selects(person: Person, selected: bool) -> None:
    assert selects(rule(department_ids=["fin"], staff_ids=["named"]), "r-1", person) == selected
