"""What valid feedback is. HTTP submissions and survey-tool records go through the same rules."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["survey", "issue", "comment"]
Severity = Literal["low", "medium", "high", "critical"]
Channel = Literal["http", "intake"]

SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
CSAT_RANGE = range(1, 6)
NPS_RANGE = range(0, 11)
MAX_TEXT = 4000  # characters, as in the onramp.feedback.submitted.v1 schema
MAX_CATEGORY = 64

# Feedback ids of survey-tool records are derived from the tool's own ids (see intake_feedback_id).
_INTAKE_NAMESPACE = uuid.UUID("8f5d6f0e-8a51-4c55-9c1e-3b7f1c2d9a40")


@dataclass(frozen=True, slots=True)
class Content:
    """What a person said, whichever path it came by."""

    kind: Kind
    csat: int | None = None
    nps: int | None = None
    severity: Severity | None = None
    category: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why feedback is refused: a stable ``code`` for machines and a message for people.
    Neither repeats a submitted value (they reach logs and dead-letter headers)."""

    code: str
    message: str


def normalize(content: Content) -> Content:
    """Surrounding whitespace is not content; a blank category is no category."""
    category = (content.category or "").strip() or None
    return replace(content, text=content.text.strip(), category=category)


def problems(content: Content) -> list[Problem]:
    """Every rule that (normalized) ``content`` breaks; an empty list when it is valid."""
    return [
        *_score_problems(content),
        *_kind_problems(content),
        *_text_problems(content),
    ]


def _score_problems(content: Content) -> list[Problem]:
    found = []
    if content.csat is not None and content.csat not in CSAT_RANGE:
        found.append(Problem("csat_out_of_range", "csat is from 1 to 5"))
    if content.nps is not None and content.nps not in NPS_RANGE:
        found.append(Problem("nps_out_of_range", "nps is from 0 to 10"))
    return found


def _kind_problems(content: Content) -> list[Problem]:
    scored = content.csat is not None or content.nps is not None
    found = []
    if content.kind == "survey" and not scored:
        found.append(Problem("survey_without_score", "a survey answer needs csat and/or nps"))
    if content.kind != "survey" and scored:
        found.append(Problem("score_not_on_survey", "only survey answers have csat or nps"))
    if content.kind == "issue" and content.severity is None:
        found.append(Problem("issue_without_severity", "an issue needs a severity"))
    if content.kind != "issue" and content.severity is not None:
        found.append(Problem("severity_not_on_issue", "only issues have a severity"))
    if content.kind in ("issue", "comment") and not content.text:
        found.append(Problem(f"{content.kind}_without_text", f"a {content.kind} needs a text"))
    return found


def _text_problems(content: Content) -> list[Problem]:
    found = []
    if len(content.text) > MAX_TEXT:
        found.append(Problem("text_too_long", f"text has at most {MAX_TEXT} characters"))
    if content.category is not None and len(content.category) > MAX_CATEGORY:
        message = f"category has at most {MAX_CATEGORY} characters"
        found.append(Problem("category_too_long", message))
    if "\x00" in content.text or "\x00" in (content.category or ""):
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
        found.append(Problem("nul_character", "text and category cannot contain NUL"))
    return found


def timing_problems(submitted_at: datetime, now: datetime, max_skew: timedelta) -> list[Problem]:
    """An answer dated in the future would outrank every later answer of its respondent."""
    if submitted_at > now + max_skew:
        return [Problem("submitted_in_future", "submitted_at is in the future")]
    return []


def intake_feedback_id(source: str, external_id: str) -> uuid.UUID:
    """Our id for a survey tool's answer: the same tool id always maps to the same feedback, so
    a record sent again under a new CloudEvents id is still recognised as a duplicate."""
    return uuid.uuid5(_INTAKE_NAMESPACE, json.dumps([source, external_id]))
