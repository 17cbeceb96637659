"""Pseudonyms: stable where dedupe needs them, unlinkable where anonymity needs it."""

from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain.privacy import (
    Author,
    Staff,
    ToolRespondent,
    UnknownRespondent,
    intake_respondent,
    is_submitter,
    person_key,
    respondent_key,
    stored_staff_id,
)
from services.feedback.domain.submission import Kind

SECRET = b"respondent-key-secret"

# Staff ids with letters outside 0-9a-f, so finding one inside a hex digest means it leaked.
_staff_ids = st.from_regex(r"s-[g-z]{2,8}[0-9]{0,6}", fullmatch=True)
_rollout_ids = st.from_regex(r"r-[0-9a-z]{1,12}", fullmatch=True)
_secrets = st.binary(min_size=16, max_size=64)
_kinds = st.sampled_from(["survey", "issue", "comment"])


def _key(
    staff_id: str,
    rollout_id: str,
    *,
    kind: Kind = "survey",
    anonymous: bool = False,
    secret: bytes = SECRET,
) -> str:
    return respondent_key(secret, Staff(staff_id), rollout_id, kind=kind, anonymous=anonymous)


@given(
    secret=_secrets, staff_id=_staff_ids, rollout_id=_rollout_ids, kind=_kinds, anon=st.booleans()
)
def test_respondent_key_is_stable_and_opaque(
    secret: bytes, staff_id: str, rollout_id: str, kind: Kind, anon: bool
) -> None:
    key = _key(staff_id, rollout_id, kind=kind, anonymous=anon, secret=secret)
    assert key == _key(staff_id, rollout_id, kind=kind, anonymous=anon, secret=secret)
    assert len(key) == 64
    assert set(key) <= set(string.hexdigits.lower())
    assert staff_id.removeprefix("s-") not in key
    for guessable in (staff_id, f"{rollout_id}{staff_id}", f"{rollout_id}\x1f{staff_id}"):
        assert key != hashlib.sha256(guessable.encode()).hexdigest()


@given(staff_id=_staff_ids, rollouts=st.lists(_rollout_ids, min_size=2, max_size=2, unique=True))
def test_respondent_key_differs_across_rollouts(staff_id: str, rollouts: list[str]) -> None:
    assert _key(staff_id, rollouts[0]) != _key(staff_id, rollouts[1])


@given(rollout_id=_rollout_ids, people=st.lists(_staff_ids, min_size=2, max_size=2, unique=True))
def test_respondent_key_differs_across_people(rollout_id: str, people: list[str]) -> None:
    assert _key(people[0], rollout_id) != _key(people[1], rollout_id)


@given(
    secrets=st.lists(_secrets, min_size=2, max_size=2, unique=True),
    staff_id=_staff_ids,
    rollout_id=_rollout_ids,
)
def test_respondent_key_differs_across_secrets(
    secrets: list[bytes], staff_id: str, rollout_id: str
) -> None:
    assert _key(staff_id, rollout_id, secret=secrets[0]) != _key(
        staff_id, rollout_id, secret=secrets[1]
    )


@given(staff_id=_staff_ids, rollout_id=_rollout_ids)
def test_a_persons_survey_answers_share_one_key_named_or_anonymous(
    staff_id: str, rollout_id: str
) -> None:
    """So that a newer answer replaces the older whichever way each was given."""
    assert _key(staff_id, rollout_id, anonymous=True) == _key(staff_id, rollout_id)


@given(staff_id=_staff_ids, rollout_id=_rollout_ids)
def test_an_anonymous_issue_cannot_be_linked_to_named_feedback(
    staff_id: str, rollout_id: str
) -> None:
    anonymous = {_key(staff_id, rollout_id, kind=k, anonymous=True) for k in ("issue", "comment")}
    named = {_key(staff_id, rollout_id, kind=k) for k in ("survey", "issue", "comment")}
    assert anonymous.isdisjoint(named)


@given(staff_id=_staff_ids, rollout_id=_rollout_ids)
def test_person_key_is_not_any_respondent_key(staff_id: str, rollout_id: str) -> None:
    keys = {
        _key(staff_id, rollout_id, kind=k, anonymous=a)
        for k in ("survey", "issue")
        for a in (True, False)
    }
    assert person_key(SECRET, staff_id) not in keys
    assert staff_id.removeprefix("s-") not in person_key(SECRET, staff_id)


@given(parts=st.lists(st.text(max_size=6), min_size=3, max_size=3))
def test_tool_keys_cannot_be_forged_by_shifting_separators(parts: list[str]) -> None:
    """(source "a|b", key "c") and (source "a", key "b|c") are different respondents."""
    a, b, c = parts
    first = respondent_key(SECRET, ToolRespondent(a + b, c), "r-1", kind="survey", anonymous=True)
    second = respondent_key(SECRET, ToolRespondent(a, b + c), "r-1", kind="survey", anonymous=True)
    assert (first == second) == (a + b == a and c == b + c)


@pytest.mark.parametrize(
    ("staff_id", "tool_key", "expected"),
    [
        ("s-1", None, Staff("s-1")),
        ("s-1", "tool-9", Staff("s-1")),  # a staff id links to the person's HTTP answers
        (None, "tool-9", ToolRespondent("/survey", "tool-9")),
        (None, None, UnknownRespondent("/survey", "fb-7")),
    ],
)
def test_intake_respondent(
    staff_id: str | None, tool_key: str | None, expected: Staff | ToolRespondent
) -> None:
    found = intake_respondent("/survey", staff_id=staff_id, tool_key=tool_key, external_id="fb-7")
    assert found == expected


def test_unidentified_tool_answers_never_replace_each_other() -> None:
    keys = {
        respondent_key(
            SECRET, UnknownRespondent("/survey", fid), "r-1", kind="survey", anonymous=True
        )
        for fid in ("fb-1", "fb-2")
    }
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("respondent", "anonymous", "stored"),
    [
        (Staff("s-1"), False, "s-1"),
        (Staff("s-1"), True, None),
        (ToolRespondent("/survey", "k"), False, None),
        (UnknownRespondent("/survey", "fb-1"), True, None),
    ],
)
def test_stored_staff_id(
    respondent: Staff | ToolRespondent | UnknownRespondent, anonymous: bool, stored: str | None
) -> None:
    assert stored_staff_id(respondent, anonymous=anonymous) == stored


def _author(staff_id: str | None, key: str, *, anonymous: bool, kind: Kind = "issue") -> Author:
    return Author(staff_id, key, "r-1", kind, anonymous)


@pytest.mark.parametrize(
    ("author", "viewer", "expected"),
    [
        pytest.param(_author("s-1", "k", anonymous=False), "s-1", True, id="named-own"),
        pytest.param(_author("s-1", "k", anonymous=False), "s-2", False, id="named-other"),
        pytest.param(
            _author(None, _key("s-1", "r-1", kind="issue", anonymous=True), anonymous=True),
            "s-1",
            True,
            id="anonymous-own",
        ),
        pytest.param(
            _author(None, _key("s-1", "r-1", kind="issue", anonymous=True), anonymous=True),
            "s-2",
            False,
            id="anonymous-other",
        ),
        pytest.param(
            _author(None, _key("s-1", "r-1", kind="issue"), anonymous=False),
            "s-1",
            False,
            id="named-tool-answer-without-staff-id",
        ),
    ],
)
def test_is_submitter(author: Author, viewer: str, expected: bool) -> None:
    assert is_submitter(SECRET, viewer, author) is expected
