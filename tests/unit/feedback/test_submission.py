"""What valid feedback is: the rules both intake paths share, and the HTTP model around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.feedback.domain.submission import (
    Content,
    intake_feedback_id,
    normalize,
    problems,
    timing_problems,
)
from services.feedback.schemas import FeedbackIn

VALID: list[tuple[str, Content]] = [
    ("survey-csat", Content("survey", csat=1)),
    ("survey-nps", Content("survey", nps=0)),
    ("survey-both-with-comment", Content("survey", csat=5, nps=10, text="fine")),
    ("survey-with-category", Content("survey", csat=3, category="training")),
    ("issue", Content("issue", severity="low", text="printer gone")),
    ("issue-with-category", Content("issue", severity="critical", category="vpn", text="x")),
    ("comment", Content("comment", text="nice")),
    ("text-at-limit", Content("comment", text="t" * 4000)),
    ("category-at-limit", Content("comment", text="x", category="c" * 64)),
]

INVALID: list[tuple[Content, list[str]]] = [
    (Content("survey"), ["survey_without_score"]),
    (Content("survey", text="meh"), ["survey_without_score"]),
    (Content("survey", csat=0), ["csat_out_of_range"]),
    (Content("survey", csat=6), ["csat_out_of_range"]),
    (Content("survey", nps=11), ["nps_out_of_range"]),
    (Content("survey", nps=-1), ["nps_out_of_range"]),
    (Content("survey", csat=4, severity="low"), ["severity_not_on_issue"]),
    (Content("issue", text="broken"), ["issue_without_severity"]),
    (Content("issue", severity="high"), ["issue_without_text"]),
    (Content("issue", severity="high", text="x", csat=2), ["score_not_on_survey"]),
    (Content("comment"), ["comment_without_text"]),
    (Content("comment", text="x", nps=3), ["score_not_on_survey"]),
    (Content("comment", text="x", severity="high"), ["severity_not_on_issue"]),
    (Content("comment", text="t" * 4001), ["text_too_long"]),
    (Content("comment", text="x", category="c" * 65), ["category_too_long"]),
    (Content("comment", text="a\x00b"), ["nul_character"]),
    (Content("survey", csat=4, category="a\x00"), ["nul_character"]),
    (Content("issue"), ["issue_without_severity", "issue_without_text"]),
]


@pytest.mark.parametrize("content", [c for _, c in VALID], ids=[n for n, _ in VALID])
def test_valid_content_has_no_problems(content: Content) -> None:
    assert problems(normalize(content)) == []


@pytest.mark.parametrize(("content", "codes"), INVALID, ids=[" ".join(c) for _, c in INVALID])
def test_invalid_content_names_every_broken_rule(content: Content, codes: list[str]) -> None:
    assert [p.code for p in problems(normalize(content))] == codes


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (Content("comment", text="  hi \n"), Content("comment", text="hi")),
        (Content("comment", text="x", category="  "), Content("comment", text="x")),
        (
            Content("comment", text="x", category=" vpn "),
            Content("comment", text="x", category="vpn"),
        ),
        (Content("issue", severity="low", text=" \t"), Content("issue", severity="low")),
    ],
)
def test_normalize(raw: Content, normalized: Content) -> None:
    assert normalize(raw) == normalized


def test_blank_text_does_not_count_as_text() -> None:
    content = normalize(Content("comment", text="   "))
    assert [p.code for p in problems(content)] == ["comment_without_text"]


@given(text=st.text(max_size=300), category=st.none() | st.text(max_size=80))
def test_problem_messages_never_repeat_what_was_submitted(text: str, category: str | None) -> None:
    marker = "MARKER-7f3a"
    content = normalize(Content("issue", text=f"{marker}{text}", category=category))
    for problem in problems(content):
        assert marker not in problem.message
        assert marker not in problem.code


NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("submitted_at", "codes"),
    [
        (NOW - timedelta(days=30), []),
        (NOW, []),
        (NOW + SKEW, []),
        (NOW + SKEW + timedelta(seconds=1), ["submitted_in_future"]),
    ],
)
def test_answers_dated_in_the_future_are_refused(submitted_at: datetime, codes: list[str]) -> None:
    assert [p.code for p in timing_problems(submitted_at, NOW, SKEW)] == codes


_ids = st.text(min_size=1, max_size=40)


@given(source=_ids, external_id=_ids)
def test_intake_ids_are_stable(source: str, external_id: str) -> None:
    assert intake_feedback_id(source, external_id) == intake_feedback_id(source, external_id)


@given(a=st.tuples(_ids, _ids), b=st.tuples(_ids, _ids))
def test_intake_ids_differ_for_different_records(a: tuple[str, str], b: tuple[str, str]) -> None:
    if a != b:
        assert intake_feedback_id(*a) != intake_feedback_id(*b)


# --- the HTTP model: the same rules, strict types ----------------------------------------------

_VALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("survey", {"kind": "survey", "csat": 5}),
    ("survey-anonymous", {"kind": "survey", "nps": 9, "anonymous": True}),
    ("issue", {"kind": "issue", "severity": "critical", "text": "x", "category": "vpn"}),
    ("comment-null-category", {"kind": "comment", "text": "nice", "category": None}),
]

_INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("survey-without-scores", {"kind": "survey"}, "survey_without_score"),
    ("issue-without-text", {"kind": "issue", "severity": "high"}, "issue_without_text"),
    ("comment-blank", {"kind": "comment", "text": "  "}, "comment_without_text"),
    (
        "score-on-issue",
        {"kind": "issue", "severity": "low", "text": "x", "csat": 1},
        "score_not_on_survey",
    ),
    ("csat-6", {"kind": "survey", "csat": 6}, "less_than_equal"),
    ("csat-as-string", {"kind": "survey", "csat": "5"}, "int_type"),
    ("csat-as-float", {"kind": "survey", "csat": 4.0}, "int_type"),
    ("anonymous-as-int", {"kind": "survey", "csat": 5, "anonymous": 1}, "bool_type"),
    ("unknown-kind", {"kind": "praise", "text": "x"}, "literal_error"),
    ("unknown-severity", {"kind": "issue", "severity": "urgent", "text": "x"}, "literal_error"),
    ("extra-field", {"kind": "comment", "text": "x", "staff_id": "s-1"}, "extra_forbidden"),
    ("text-over-4000", {"kind": "comment", "text": "t" * 4001}, "string_too_long"),
    ("category-over-64", {"kind": "comment", "text": "x", "category": "c" * 65}, "string_too_long"),
    ("nul-in-text", {"kind": "comment", "text": "a\x00"}, "nul_character"),
    ("empty-rollout", {"rollout_id": "", "kind": "comment", "text": "x"}, "string_too_short"),
    (
        "control-in-rollout",
        {"rollout_id": "r\n1", "kind": "comment", "text": "x"},
        "string_pattern_mismatch",
    ),
    ("no-rollout", {"rollout_id": ..., "kind": "comment", "text": "x"}, "missing"),
]


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    payload = {"rollout_id": "r-1"} | fields
    return {name: value for name, value in payload.items() if value is not ...}


@pytest.mark.parametrize("fields", [f for _, f in _VALID_BODIES], ids=[n for n, _ in _VALID_BODIES])
def test_valid_bodies(fields: dict[str, Any]) -> None:
    FeedbackIn.model_validate(_body(fields))


@pytest.mark.parametrize(
    ("fields", "error_type"),
    [(f, e) for _, f, e in _INVALID_BODIES],
    ids=[n for n, _, _ in _INVALID_BODIES],
)
def test_invalid_bodies_say_why(fields: dict[str, Any], error_type: str) -> None:
    with pytest.raises(ValidationError) as invalid:
        FeedbackIn.model_validate(_body(fields))
    assert error_type in [error["type"] for error in invalid.value.errors()]


def test_the_http_model_hands_over_normalized_content() -> None:
    body = FeedbackIn.model_validate(_body({"kind": "comment", "text": " hi ", "category": " "}))
    assert body.content() == Content("comment", text="hi")
