"""Escalation targets and how they resolve to people."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.domain import targets
from services.notify.domain.targets import Facts, Resolution, resolve

FACTS = Facts(
    role_members={"it_support": ["it-2", "it-1"], "admin": ["adm-1"]},
    submitter_manager="mgr-1",
    submitter_dept_head="head-1",
    rollout_owner="owner-1",
    inactive=frozenset({"gone-1"}),
)


@pytest.mark.parametrize(
    "target",
    [
        "role:it_support",
        "role:admin",
        "manager:submitter",
        "dept_head:submitter",
        "rollout_owner",
        "staff:s-42",
        "staff:ada@example.com",
    ],
)
def test_accepted_targets(target: str) -> None:
    assert targets.check(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "",
        "role:",
        "role:IT",
        "manager:owner",
        "owner",
        "staff:",
        "staff:a b",
        "dept_head",
        "role:it_support ",
        "everyone",
    ],
)
def test_refused_targets(target: str) -> None:
    with pytest.raises(ValueError, match="unknown target"):
        targets.check(target)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (["role:it_support"], Resolution(("it-1", "it-2"), ())),
        (["role:approver"], Resolution((), ("role:approver",))),  # nobody holds it
        (["manager:submitter", "dept_head:submitter"], Resolution(("head-1", "mgr-1"), ())),
        (["rollout_owner", "staff:owner-1"], Resolution(("owner-1",), ())),  # once each
        (["staff:gone-1"], Resolution((), ("staff:gone-1",))),  # left the company
        (["role:admin", "role:it_support"], Resolution(("adm-1", "it-1", "it-2"), ())),
    ],
)
def test_resolve(wanted: list[str], expected: Resolution) -> None:
    assert resolve(wanted, FACTS) == expected


def test_an_anonymous_submitter_has_no_manager_to_escalate_to() -> None:
    anonymous = Facts(submitter_manager=None, submitter_dept_head="head-1")
    assert resolve(["manager:submitter", "dept_head:submitter"], anonymous) == Resolution(
        ("head-1",), ("manager:submitter",)
    )


def test_what_a_handler_must_look_up() -> None:
    wanted = ["role:it_support", "staff:s-1", "role:admin", "rollout_owner", "role:admin"]
    assert targets.roles_needed(wanted) == ["admin", "it_support"]
    assert targets.staff_needed(wanted) == ["s-1"]


_people = st.lists(st.from_regex(r"s-[0-9]{1,3}", fullmatch=True), max_size=8)


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(members=_people, inactive=_people)
def test_resolution_is_distinct_sorted_and_active(members: list[str], inactive: list[str]) -> None:
    facts = Facts(role_members={"staff": members}, inactive=frozenset(inactive))
    found = resolve(["role:staff"], facts)
    assert list(found.recipients) == sorted(set(members) - set(inactive))
    assert (found.unresolved == ("role:staff",)) is (not found.recipients)
