"""One survey answer per respondent and rollout: the newest counts, the older ones stay as
history. "Newest" is by the time the person answered (``submitted_at``), not by arrival, so a
survey tool delivering late cannot overwrite a newer answer; the feedback id breaks ties."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Answer:
    feedback_id: uuid.UUID
    respondent_key: str
    submitted_at: datetime
    department_id: str | None = None
    csat: int | None = None
    nps: int | None = None


def _order(answer: Answer) -> tuple[datetime, uuid.UUID]:
    return answer.submitted_at, answer.feedback_id


def latest_answers(answers: Iterable[Answer]) -> list[Answer]:
    """The answer that counts for each respondent, in respondent-key order."""
    latest: dict[str, Answer] = {}
    for answer in answers:
        current = latest.get(answer.respondent_key)
        if current is None or _order(answer) > _order(current):
            latest[answer.respondent_key] = answer
    return [latest[key] for key in sorted(latest)]


def superseded_by(answer: Answer, answers: Iterable[Answer]) -> uuid.UUID | None:
    """The answer that replaces ``answer`` (None when ``answer`` is the one that counts).
    ``answers`` may hold other respondents' answers too; they do not matter."""
    mine = [a for a in answers if a.respondent_key == answer.respondent_key]
    newest = max([answer, *mine], key=_order)
    return None if newest.feedback_id == answer.feedback_id else newest.feedback_id
