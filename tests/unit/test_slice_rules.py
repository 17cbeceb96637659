"""Pure rules of the thin slice: respondent pseudonyms, feedback input, urgent-issue alerts."""

import hashlib
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.feedback.domain import respondent_key, stored_staff_id
from services.feedback.schemas import FeedbackIn
from services.notify.domain import IssueReported, issue_alerts

SECRET = b"respondent-key-secret"

# Staff ids with letters outside 0-9a-f, so finding one inside a hex digest means it leaked.
_staff_ids = st.from_regex(r"s-[g-z]{2,8}[0-9]{0,6}", fullmatch=True)
_rollout_ids = st.from_regex(r"r-[0-9a-z]{1,12}", fullmatch=True)
_secrets = st.binary(min_size=16, max_size=64)


# --- respondent_key ----------------------------------------------------------------------------


@given(secret=_secrets, staff_id=_staff_ids, rollout_id=_rollout_ids)
def test_respondent_key_is_stable_and_opaque(secret: bytes, staff_id: str, rollout_id: str) -> None:
    key = respondent_key(secret, staff_id, rollout_id)
    assert key == respondent_key(secret, staff_id, rollout_id)
    assert len(key) == 64
    assert set(key) <= set(string.hexdigits.lower())
    assert staff_id not in key
    assert staff_id.removeprefix("s-") not in key
    for guessable in (staff_id, f"{rollout_id}{staff_id}", f"{rollout_id}\x1f{staff_id}"):
        assert key != hashlib.sha256(guessable.encode()).hexdigest()


@given(
    secret=_secrets,
    staff_id=_staff_ids,
    rollouts=st.lists(_rollout_ids, min_size=2, max_size=2, unique=True),
)
def test_respondent_key_differs_across_rollouts(
    secret: bytes, staff_id: str, rollouts: list[str]
) -> None:
    first, second = (respondent_key(secret, staff_id, rollout) for rollout in rollouts)
    assert first != second


@given(
    secret=_secrets,
    rollout_id=_rollout_ids,
    people=st.lists(_staff_ids, min_size=2, max_size=2, unique=True),
)
def test_respondent_key_differs_across_people(
    secret: bytes, rollout_id: str, people: list[str]
) -> None:
    first, second = (respondent_key(secret, person, rollout_id) for person in people)
    assert first != second


@given(
    secrets=st.lists(_secrets, min_size=2, max_size=2, unique=True),
    staff_id=_staff_ids,
    rollout_id=_rollout_ids,
)
def test_respondent_key_differs_across_secrets(
    secrets: list[bytes], staff_id: str, rollout_id: str
) -> None:
    first, second = (respondent_key(secret, staff_id, rollout_id) for secret in secrets)
    assert first != second


@given(secret=_secrets, a=_staff_ids, b=_rollout_ids)
def test_respondent_key_is_not_symmetric_in_person_and_rollout(
    secret: bytes, a: str, b: str
) -> None:
    assert respondent_key(secret, a, b) != respondent_key(secret, b, a)


@pytest.mark.parametrize(
    ("anonymous", "stored"),
    [(True, None), (False, "s-1")],
    ids=["anonymous", "named"],
)
def test_stored_staff_id(anonymous: bool, stored: str | None) -> None:
    assert stored_staff_id("s-1", anonymous=anonymous) == stored


# --- issue_alerts ------------------------------------------------------------------------------


def _issue(
    kind: str = "issue", severity: str | None = "high", category: str | None = "vpn"
) -> IssueReported:
    return IssueReported(
        feedback_id="f-1", rollout_id="r-1", kind=kind, severity=severity, category=category
    )


IT_SUPPORT = ["u-3", "u-1", "u-3", "u-2", "u-1"]


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_urgent_issues_alert_every_it_support_member_once(severity: str) -> None:
    drafts = issue_alerts(_issue(severity=severity), IT_SUPPORT)
    assert [draft.recipient_id for draft in drafts] == ["u-1", "u-2", "u-3"]
    for draft in drafts:
        assert draft.template == "issue.reported"
        assert draft.priority == "high"
        assert draft.data == {"feedback_id": "f-1", "rollout_id": "r-1"}
        assert severity in draft.subject.lower()
        assert "r-1" in draft.subject
        assert "vpn" in draft.body


def test_an_alert_without_category_does_not_mention_one() -> None:
    (draft,) = issue_alerts(_issue(severity="critical", category=None), ["u-1"])
    assert draft.body == "A critical issue needs acknowledging."


@pytest.mark.parametrize(
    ("kind", "severity"),
    [
        ("issue", "low"),
        ("issue", "medium"),
        ("issue", None),
        ("issue", "High"),
        ("survey", None),
        ("survey", "critical"),
        ("comment", None),
        ("comment", "high"),
    ],
)
def test_no_alert_for_anything_else(kind: str, severity: str | None) -> None:
    assert issue_alerts(_issue(kind=kind, severity=severity), IT_SUPPORT) == []


@pytest.mark.parametrize("recipients", [[], ()], ids=["list", "tuple"])
def test_no_alert_without_recipients(recipients: list[str] | tuple[str, ...]) -> None:
    assert issue_alerts(_issue(severity="critical"), recipients) == []


@given(recipients=st.lists(st.from_regex(r"u-[0-9]{1,3}", fullmatch=True), max_size=20))
def test_alerts_go_to_each_distinct_recipient_in_order(recipients: list[str]) -> None:
    drafts = issue_alerts(_issue(), recipients)
    assert [draft.recipient_id for draft in drafts] == sorted(set(recipients))


# --- FeedbackIn --------------------------------------------------------------------------------

_VALID: list[tuple[str, dict[str, Any]]] = [
    ("survey-csat", {"kind": "survey", "csat": 5}),
    ("survey-nps", {"kind": "survey", "nps": 0}),
    ("survey-both", {"kind": "survey", "csat": 1, "nps": 10, "text": "fine"}),
    ("survey-anonymous", {"kind": "survey", "csat": 3, "anonymous": True}),
    ("issue", {"kind": "issue", "severity": "low", "text": "printer gone"}),
    ("issue-critical", {"kind": "issue", "severity": "critical", "text": "x", "category": "vpn"}),
    ("comment", {"kind": "comment", "text": "nice"}),
    ("text-at-limit", {"kind": "comment", "text": "t" * 4000}),
]

_INVALID: list[tuple[str, dict[str, Any]]] = [
    ("survey-without-scores", {"kind": "survey"}),
    ("survey-text-only", {"kind": "survey", "text": "meh"}),
    ("csat-0", {"kind": "survey", "csat": 0}),
    ("csat-6", {"kind": "survey", "csat": 6}),
    ("nps-11", {"kind": "survey", "nps": 11}),
    ("nps-negative", {"kind": "survey", "nps": -1}),
    ("issue-without-severity", {"kind": "issue", "text": "broken"}),
    ("issue-without-text", {"kind": "issue", "severity": "high"}),
    ("issue-empty-text", {"kind": "issue", "severity": "high", "text": ""}),
    ("issue-unknown-severity", {"kind": "issue", "severity": "urgent", "text": "x"}),
    ("severity-on-survey", {"kind": "survey", "csat": 4, "severity": "low"}),
    ("severity-on-comment", {"kind": "comment", "text": "x", "severity": "high"}),
    ("comment-without-text", {"kind": "comment"}),
    ("comment-empty-text", {"kind": "comment", "text": ""}),
    ("extra-field", {"kind": "comment", "text": "x", "staff_id": "s-1"}),
    ("text-over-4000", {"kind": "comment", "text": "t" * 4001}),
    ("unknown-kind", {"kind": "praise", "text": "x"}),
    ("category-over-100", {"kind": "comment", "text": "x", "category": "c" * 101}),
    ("empty-rollout", {"rollout_id": "", "kind": "comment", "text": "x"}),
    ("no-rollout", {"rollout_id": ..., "kind": "comment", "text": "x"}),
]


def _feedback(fields: dict[str, Any]) -> dict[str, Any]:
    payload = {"rollout_id": "r-1"} | fields
    return {name: value for name, value in payload.items() if value is not ...}


@pytest.mark.parametrize("fields", [f for _, f in _VALID], ids=[n for n, _ in _VALID])
def test_valid_feedback(fields: dict[str, Any]) -> None:
    feedback = FeedbackIn.model_validate(_feedback(fields))
    assert feedback.model_dump(exclude_unset=True) == _feedback(fields)


@pytest.mark.parametrize("fields", [f for _, f in _INVALID], ids=[n for n, _ in _INVALID])
def test_invalid_feedback(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FeedbackIn.model_validate(_feedback(fields))
