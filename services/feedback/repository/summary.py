"""SQL behind a rollout's feedback summary."""

from __future__ import annotations

from services.feedback.domain.answers import Answer
from services.feedback.domain.summary import Group, Issue
from services.feedback.repository.feedback import ANSWER_COLUMNS, Period, answer, case_of
from shared.db import Conn


async def read_one_snapshot(conn: Conn) -> None:
    """Let the rest of the transaction read one consistent snapshot (must come first in it)."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


_IN_PERIOD = (
    "rollout_id = $1"
    " AND ($2::timestamptz IS NULL OR submitted_at >= $2)"
    " AND ($3::timestamptz IS NULL OR submitted_at < $3)"
)


async def survey_answers(conn: Conn, rollout_id: str, period: Period) -> list[Answer]:
    rows = await conn.fetch(
        f"SELECT {ANSWER_COLUMNS} FROM feedback WHERE kind = 'survey' AND {_IN_PERIOD}",
        rollout_id,
        period.since,
        period.until,
    )
    return [answer(row) for row in rows]


async def issues(conn: Conn, rollout_id: str, period: Period) -> list[Issue]:
    rows = await conn.fetch(
        f"SELECT * FROM feedback WHERE kind = 'issue' AND {_IN_PERIOD}",
        rollout_id,
        period.since,
        period.until,
    )
    return [
        Issue(row["department_id"], row["severity"], row["submitted_at"], case_of(dict(row)))
        for row in rows
    ]


async def comment_counts(conn: Conn, rollout_id: str, period: Period) -> dict[Group, int]:
    rows = await conn.fetch(
        f"""SELECT department_id, count(*) AS comments FROM feedback
            WHERE kind = 'comment' AND {_IN_PERIOD} GROUP BY department_id""",
        rollout_id,
        period.since,
        period.until,
    )
    return {row["department_id"]: row["comments"] for row in rows}


async def department_names(conn: Conn, rollout_id: str) -> dict[str, str]:
    """Names of the departments that gave feedback on ``rollout_id``."""
    rows = await conn.fetch(
        """SELECT department_id, name FROM departments WHERE department_id IN (
               SELECT department_id FROM feedback WHERE rollout_id = $1)""",
        rollout_id,
    )
    return {row["department_id"]: row["name"] for row in rows}
