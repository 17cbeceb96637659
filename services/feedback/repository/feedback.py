"""SQL of feedback items: storing them, their cases, listings and survey answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from services.feedback.domain.answers import Answer
from services.feedback.domain.cases import Case
from services.feedback.domain.feedback import Feedback
from shared import outbox, ratelimit
from shared.db import Conn
from shared.events import CloudEvent, topics

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Period:
    """``since`` inclusive, ``until`` exclusive, on ``submitted_at``; None leaves a side open."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    rollout_id: str | None = None
    kind: str | None = None
    status: str | None = None
    severity: str | None = None
    department_id: str | None = None
    period: Period = Period()


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page of the newest-first listing ended."""

    submitted_at: datetime
    feedback_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SubmissionContext:
    rollout_known: bool
    department_id: str | None
    newest_answer: Answer | None  # the respondent's newest survey answer so far, when asked for


_NEWEST_ANSWER = """
    LEFT JOIN LATERAL (
        SELECT feedback_id, submitted_at FROM feedback f
        WHERE f.kind = 'survey' AND f.rollout_id = {rollout_id}
              AND f.respondent_key = {respondent_key}
        ORDER BY f.submitted_at DESC, f.feedback_id DESC LIMIT 1) AS newest ON true"""

CONTEXT = """SELECT EXISTS (SELECT 1 FROM rollouts WHERE rollout_id = $1) AS rollout_known,
              (SELECT department_id FROM people WHERE person_key = $2) AS department_id,
              newest.feedback_id AS newest_id, newest.submitted_at AS newest_at
       FROM (SELECT) AS one""" + _NEWEST_ANSWER.format(rollout_id="$1", respondent_key="$3")


async def submission_context(
    conn: Conn, rollout_id: str, person_key: str | None, survey_key: str | None = None
) -> SubmissionContext:
    """Whether the rollout is known, the submitter's department and, given the respondent key of
    a survey answer, that respondent's newest answer so far."""
    row = await conn.fetchrow(CONTEXT, rollout_id, person_key, survey_key)
    assert row is not None
    return SubmissionContext(row["rollout_known"], row["department_id"], _newest(row, survey_key))


def _newest(row: asyncpg.Record, survey_key: str | None) -> Answer | None:
    if survey_key is None or row["newest_id"] is None:
        return None
    return Answer(row["newest_id"], survey_key, row["newest_at"])


# The columns of an insert, in the order of _values(); department_id last.
_COLUMNS = """feedback_id, rollout_id, kind, csat, nps, severity, category, text, anonymous,
              staff_id, respondent_key, channel, source, external_id, submitted_at, status,
              ack_due_at, resolve_due_at, department_id"""

INSERT_FEEDBACK = f"""
    INSERT INTO feedback ({_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
    ON CONFLICT DO NOTHING RETURNING feedback_id"""


def _values(feedback: Feedback) -> tuple[object, ...]:
    """What is stored of ``feedback``, the department aside (see _COLUMNS)."""
    content, case = feedback.content, feedback.case
    return (
        feedback.feedback_id,
        feedback.rollout_id,
        content.kind,
        content.csat,
        content.nps,
        content.severity,
        content.category,
        content.text,
        feedback.anonymous,
        feedback.staff_id,
        feedback.respondent_key,
        feedback.channel,
        feedback.source,
        feedback.external_id,
        feedback.submitted_at,
        case.status if case else None,
        case.ack_due_at if case else None,
        case.resolve_due_at if case else None,
    )


async def insert_feedback(conn: Conn, feedback: Feedback, announce: CloudEvent[BaseModel]) -> bool:
    """Store ``feedback`` and stage ``announce`` (on the feedback topic) in one statement; False,
    and nothing staged, when the same feedback (id, or survey tool and its id) is stored."""
    return await outbox.add_if_inserted(
        conn,
        INSERT_FEEDBACK,
        (*_values(feedback), feedback.department_id),
        announce,
        topic=topics.FEEDBACK,
        key=feedback.rollout_id,
    )


@dataclass(frozen=True, slots=True)
class Submission:
    """What :func:`submit` found; it stored the feedback if the rollout is known and the hits
    are within the limit."""

    hits: int  # the submitter's requests in the rate limit's window, this one included
    rollout_known: bool
    department_id: str | None
    newest_answer: Answer | None  # for a survey answer: the respondent's newest one before it


# $1-$18 the values, $19-$22 person key, bucket, window and limit, then the event's staging.
_STAGE_SUBMITTED = outbox.staging(
    23,
    rows="inserted, context",
    resolved="jsonb_build_object('department_id', context.department_id)",
)
_NEWEST_SURVEY_ANSWER = _NEWEST_ANSWER.format(
    rollout_id="$2", respondent_key="CASE WHEN $3 = 'survey' THEN $11 END"
)

SUBMIT = f"""
    WITH hit AS ({ratelimit.count_hit("$20", "$21")}),
    context AS (
        SELECT (SELECT hits FROM hit) AS hits,
               EXISTS (SELECT 1 FROM rollouts WHERE rollout_id = $2) AS rollout_known,
               (SELECT department_id FROM people WHERE person_key = $19) AS department_id),
    inserted AS (
        INSERT INTO feedback ({_COLUMNS})
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
               context.department_id
        FROM context WHERE context.rollout_known AND context.hits <= $22
        RETURNING feedback_id),
    staged AS ({_STAGE_SUBMITTED})
    SELECT context.*, newest.feedback_id AS newest_id, newest.submitted_at AS newest_at,
           EXISTS (SELECT FROM staged) AS stored
    FROM context {_NEWEST_SURVEY_ANSWER}"""


async def submit(
    conn: Conn,
    feedback: Feedback,
    announce: CloudEvent[BaseModel],
    *,
    person_key: str,
    hit: ratelimit.Hit,
) -> Submission:
    """A staff member's submission in one statement: count the rate-limit ``hit``, look up the
    rollout and the submitter's department, and, if the rollout is known and the hit within the
    limit, store ``feedback`` with that department and stage ``announce`` with it too.

    ``feedback.department_id`` is not read: the department is the one the people projection
    holds for ``person_key`` as the statement runs."""
    row = await conn.fetchrow(
        SUBMIT,
        *_values(feedback),
        person_key,
        hit.bucket,
        hit.window_start,
        hit.limit,
        *outbox.staging_args(announce, topic=topics.FEEDBACK, key=feedback.rollout_id),
    )
    assert row is not None
    if row["stored"]:
        outbox.wake_on_commit(conn)
    survey_key = feedback.respondent_key if feedback.content.kind == "survey" else None
    return Submission(
        row["hits"],
        row["rollout_known"],
        row["department_id"],
        _newest(row, survey_key),
    )


async def get_feedback(conn: Conn, feedback_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    """One item; ``lock`` holds it until the transaction ends (for a lifecycle change)."""
    sql = "SELECT * FROM feedback WHERE feedback_id = $1" + (" FOR UPDATE" if lock else "")
    row = await conn.fetchrow(sql, feedback_id)
    return dict(row) if row else None


async def save_case(conn: Conn, feedback_id: uuid.UUID, case: Case) -> None:
    await conn.execute(
        """UPDATE feedback SET status = $2, acknowledged_at = $3, acknowledged_by = $4,
                               resolved_at = $5, resolved_by = $6, resolution = $7
           WHERE feedback_id = $1""",
        feedback_id,
        case.status,
        case.acknowledged_at,
        case.acknowledged_by,
        case.resolved_at,
        case.resolved_by,
        case.resolution,
    )


def case_of(row: Row) -> Case:
    return Case(
        status=row["status"],
        ack_due_at=row["ack_due_at"],
        resolve_due_at=row["resolve_due_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
    )


_EQUALITY_FILTERS = ("rollout_id", "kind", "status", "severity", "department_id")


def _conditions(filters: Filters, after: Position | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def add(template: str, *values: Any) -> None:
        first = len(args) + 1
        args.extend(values)
        clauses.append(template.format(*(f"${first + i}" for i in range(len(values)))))

    for column in _EQUALITY_FILTERS:  # names from this fixed list, never from the request
        value = getattr(filters, column)
        if value is not None:
            add(f"{column} = {{}}", value)
    if filters.period.since is not None:
        add("submitted_at >= {}", filters.period.since)
    if filters.period.until is not None:
        add("submitted_at < {}", filters.period.until)
    if after is not None:
        add("(submitted_at, feedback_id) < ({}, {})", after.submitted_at, after.feedback_id)
    return (" AND ".join(clauses) or "true"), args


async def list_feedback(
    conn: Conn, filters: Filters, *, after: Position | None, limit: int
) -> list[Row]:
    """Newest first; ``after`` continues where the previous page ended."""
    where, args = _conditions(filters, after)
    rows = await conn.fetch(
        f"""SELECT * FROM feedback WHERE {where}
            ORDER BY submitted_at DESC, feedback_id DESC LIMIT ${len(args) + 1}""",
        *args,
        limit,
    )
    return [dict(row) for row in rows]


def answer(row: asyncpg.Record) -> Answer:
    return Answer(
        feedback_id=row["feedback_id"],
        respondent_key=row["respondent_key"],
        submitted_at=row["submitted_at"],
        department_id=row["department_id"],
        csat=row["csat"],
        nps=row["nps"],
    )


ANSWER_COLUMNS = "feedback_id, respondent_key, submitted_at, department_id, csat, nps"


async def newest_answers(conn: Conn, respondents: Iterable[tuple[str, str]]) -> list[Answer]:
    """The newest survey answer of each (rollout id, respondent key) pair: enough to tell whether
    an answer was replaced (domain.answers holds the rule; this order is the same)."""
    pairs = sorted(set(respondents))
    if not pairs:
        return []
    # One index probe per pair (LIMIT 1), however many answers a respondent has given.
    rows = await conn.fetch(
        f"""SELECT newest.* FROM unnest($1::text[], $2::text[]) AS p(rollout_id, respondent_key)
            CROSS JOIN LATERAL (
                SELECT {ANSWER_COLUMNS} FROM feedback f
                WHERE f.kind = 'survey' AND f.rollout_id = p.rollout_id
                  AND f.respondent_key = p.respondent_key
                ORDER BY f.submitted_at DESC, f.feedback_id DESC LIMIT 1) AS newest""",
        [rollout for rollout, _ in pairs],
        [key for _, key in pairs],
    )
    return [answer(row) for row in rows]
