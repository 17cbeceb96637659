"""Reading feedback: one item, a filtered listing, a rollout's summary."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from services.feedback import repository
from services.feedback.config import Policy
from services.feedback.domain import privacy
from services.feedback.domain.answers import Answer, superseded_by
from services.feedback.domain.summary import Summary, summarize
from services.feedback.handlers import NotFound
from services.feedback.repository import Filters, Period, Position, Row
from shared.db import Conn


async def get_feedback(
    conn: Conn, feedback_id: uuid.UUID, viewer: str, *, sees_all: bool, policy: Policy
) -> Row:
    """One item, for readers of all feedback or for its own submitter (anonymous included)."""
    row = await visible_row(conn, feedback_id)
    if not sees_all and not privacy.is_submitter(policy.secret, viewer, _author(row)):
        raise NotFound  # the same answer as for a missing item: do not reveal that it exists
    return row


async def list_feedback(
    conn: Conn, filters: Filters, *, after: Position | None, limit: int
) -> tuple[list[Row], Position | None]:
    """A page, newest first, and where the next one starts (None after the last page)."""
    rows = await repository.list_feedback(conn, filters, after=after, limit=limit + 1)
    page = await _with_supersession(conn, rows[:limit])
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, Position(last["submitted_at"], last["feedback_id"])


async def feedback_summary(
    conn: Conn, rollout_id: str, period: Period, *, policy: Policy, now: datetime
) -> tuple[Row, Summary]:
    """The rollout (as known here) and its summary, all read from one snapshot."""
    await repository.read_one_snapshot(conn)
    rollout = await repository.rollout(conn, rollout_id)
    if rollout is None:
        raise NotFound
    summary = summarize(
        await repository.survey_answers(conn, rollout_id, period),
        await repository.issues(conn, rollout_id, period),
        await repository.comment_counts(conn, rollout_id, period),
        department_names=await repository.department_names(conn, rollout_id),
        min_group_size=policy.min_group_size,
        now=now,
    )
    return rollout, summary


async def visible_row(conn: Conn, feedback_id: uuid.UUID) -> Row:
    """An item as the API shows it."""
    row = await repository.get_feedback(conn, feedback_id)
    if row is None:
        raise NotFound
    (shown,) = await _with_supersession(conn, [row])
    return shown


def as_shown(row: Row, answers: Iterable[Answer]) -> Row:
    """A stored row as the API shows it: a survey answer says whether one of ``answers`` (the
    respondent's others, or at least the newest of them) replaced it."""
    return {**row, "superseded": _superseded(row, list(answers))}


async def _with_supersession(conn: Conn, rows: list[Row]) -> list[Row]:
    """Mark survey answers that a newer answer of the same respondent replaces."""
    surveys = [row for row in rows if row["kind"] == "survey"]
    answers = await repository.newest_answers(
        conn, ((row["rollout_id"], row["respondent_key"]) for row in surveys)
    )
    return [as_shown(row, answers) for row in rows]


def _superseded(row: Row, answers: list[Answer]) -> bool:
    if row["kind"] != "survey":
        return False
    answer = Answer(row["feedback_id"], row["respondent_key"], row["submitted_at"])
    return superseded_by(answer, answers) is not None


def _author(row: Row) -> privacy.Author:
    return privacy.Author(
        staff_id=row["staff_id"],
        respondent_key=row["respondent_key"],
        rollout_id=row["rollout_id"],
        kind=row["kind"],
        anonymous=row["anonymous"],
    )
