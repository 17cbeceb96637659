"""SQL of the projections: the directory, training completions and feedback, as this service
needs them. Every write is safe to replay and to receive out of order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.rollout.domain.cohorts import Person
from services.rollout.domain.evidence import Answer, Issue
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class StaffRow:
    staff_id: str
    name: str
    department_id: str | None
    manager_id: str | None
    active: bool
    at: datetime


async def upsert_staff_many(conn: Conn, rows: Sequence[StaffRow]) -> None:
    """Newer directory facts win, a replayed older event changes nothing; one statement for
    many people (one row per person)."""
    await conn.execute(
        """INSERT INTO staff (staff_id, name, department_id, manager_id, active, updated_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                $5::boolean[], $6::timestamptz[])
           ON CONFLICT (staff_id) DO UPDATE
           SET name = EXCLUDED.name, department_id = EXCLUDED.department_id,
               manager_id = EXCLUDED.manager_id, active = EXCLUDED.active,
               updated_at = EXCLUDED.updated_at
           WHERE staff.updated_at <= EXCLUDED.updated_at""",
        [r.staff_id for r in rows],
        [r.name for r in rows],
        [r.department_id for r in rows],
        [r.manager_id for r in rows],
        [r.active for r in rows],
        [r.at for r in rows],
    )


async def upsert_department(
    conn: Conn,
    *,
    department_id: str,
    name: str,
    head_staff_id: str | None,
    active: bool,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO departments (department_id, name, head_staff_id, active, updated_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (department_id) DO UPDATE
           SET name = EXCLUDED.name, head_staff_id = EXCLUDED.head_staff_id,
               active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
           WHERE departments.updated_at <= EXCLUDED.updated_at""",
        department_id,
        name,
        head_staff_id,
        active,
        at,
    )


async def record_completions(conn: Conn, completions: Sequence[tuple[str, str, datetime]]) -> None:
    """The first completion counts; a later attempt changes nothing. Many (staff, course,
    completed_at) in one statement; each (staff, course) appears at most once."""
    await conn.execute(
        """INSERT INTO completions (staff_id, course_id, completed_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
           ON CONFLICT (staff_id, course_id) DO UPDATE
           SET completed_at = LEAST(completions.completed_at, EXCLUDED.completed_at)""",
        [c[0] for c in completions],
        [c[1] for c in completions],
        [c[2] for c in completions],
    )


async def record_answer(conn: Conn, rollout_id: str, feedback_id: str, answer: Answer) -> None:
    """Keep the latest answer per respondent (ties broken by feedback id, so replays agree)."""
    await conn.execute(
        """INSERT INTO survey_answers
               (rollout_id, respondent, feedback_id, staff_id, department_id, csat, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (rollout_id, respondent) DO UPDATE
           SET feedback_id = EXCLUDED.feedback_id, staff_id = EXCLUDED.staff_id,
               department_id = EXCLUDED.department_id, csat = EXCLUDED.csat,
               submitted_at = EXCLUDED.submitted_at
           WHERE (survey_answers.submitted_at, survey_answers.feedback_id)
               < (EXCLUDED.submitted_at, EXCLUDED.feedback_id)""",
        rollout_id,
        answer.respondent,
        feedback_id,
        answer.staff_id,
        answer.department_id,
        answer.csat,
        answer.submitted_at,
    )


async def record_issue(conn: Conn, rollout_id: str, issue: Issue, submitted_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO issues (feedback_id, rollout_id, severity, status, staff_id,
                               department_id, submitted_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
           ON CONFLICT (feedback_id) DO NOTHING""",
        issue.feedback_id,
        rollout_id,
        issue.severity,
        issue.status,
        issue.staff_id,
        issue.department_id,
        submitted_at,
    )


async def advance_issue(conn: Conn, feedback_id: str, status: str, at: datetime) -> bool:
    """Move an issue forward (open → acknowledged → resolved), never back. False when the
    issue is unknown here."""
    result: str = await conn.execute(
        """UPDATE issues SET status = $2, updated_at = $3
           WHERE feedback_id = $1
             AND array_position(ARRAY['open', 'acknowledged', 'resolved'], status)
                 < array_position(ARRAY['open', 'acknowledged', 'resolved'], $2::text)""",
        feedback_id,
        status,
        at,
    )
    if result != "UPDATE 0":
        return True
    known: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM issues WHERE feedback_id = $1)", feedback_id
    )
    return known


# --- reads for a gate evaluation -----------------------------------------------------------


async def candidates(
    conn: Conn, department_ids: Sequence[str], staff_ids: Sequence[str]
) -> list[Person]:
    """Active staff of ``department_ids`` plus the active ones of ``staff_ids``."""
    rows = await conn.fetch(
        """SELECT staff_id, department_id, name FROM staff
           WHERE active AND (department_id = ANY($1::text[]) OR staff_id = ANY($2::text[]))""",
        list(department_ids),
        list(staff_ids),
    )
    return [Person(r[0], r[1], r[2]) for r in rows]


async def completions(
    conn: Conn, staff_ids: Sequence[str], course_ids: Sequence[str]
) -> dict[str, frozenset[str]]:
    if not staff_ids or not course_ids:
        return {}
    rows = await conn.fetch(
        """SELECT staff_id, array_agg(course_id) AS courses FROM completions
           WHERE staff_id = ANY($1::text[]) AND course_id = ANY($2::text[])
           GROUP BY staff_id""",
        list(staff_ids),
        list(course_ids),
    )
    return {r["staff_id"]: frozenset(r["courses"]) for r in rows}


async def answers(conn: Conn, rollout_id: str, since: datetime) -> list[Answer]:
    rows = await conn.fetch(
        """SELECT respondent, staff_id, department_id, csat, submitted_at FROM survey_answers
           WHERE rollout_id = $1 AND submitted_at >= $2""",
        rollout_id,
        since,
    )
    return [
        Answer(r["respondent"], r["staff_id"], r["department_id"], r["csat"], r["submitted_at"])
        for r in rows
    ]


async def unresolved_issues(conn: Conn, rollout_id: str) -> list[Issue]:
    rows = await conn.fetch(
        """SELECT feedback_id, severity, status, staff_id, department_id FROM issues
           WHERE rollout_id = $1 AND status <> 'resolved'""",
        rollout_id,
    )
    return [
        Issue(r["feedback_id"], r["severity"], r["status"], r["staff_id"], r["department_id"])
        for r in rows
    ]


async def department_names(conn: Conn, department_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT department_id, name FROM departments WHERE department_id = ANY($1::text[])",
        list(department_ids),
    )
    return {r["department_id"]: r["name"] for r in rows}
