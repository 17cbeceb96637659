"""``outbox.add_all``, ``outbox.add_if_inserted`` and ``outbox.staging`` stage events in one
statement exactly as ``add`` does one by one."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from shared import db, outbox
from shared.events import CloudEvent, to_record
from tests.support.events import training_event


async def test_add_all_stores_what_add_stores_in_the_given_order(pool: db.Pool, topic: str) -> None:
    one_by_one = [training_event() for _ in range(3)]
    together = [training_event() for _ in range(50)]
    async with db.transaction(pool) as conn:
        for event in one_by_one:
            await outbox.add(conn, event, topic=topic, key=event.subject)
        await outbox.add_all(conn, [(event, topic, event.subject) for event in together])
        await outbox.add_all(conn, [])
    rows = await pool.fetch("SELECT event_id, topic, key, value, headers FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [e.id for e in one_by_one + together]
    first, staged = rows[0], rows[3]
    assert set(staged.keys()) == set(first.keys())
    assert staged["topic"] == first["topic"] == topic
    assert staged["key"] == together[0].subject.encode()
    assert [name for name, _ in staged["headers"]] == [name for name, _ in first["headers"]]
    assert dict(staged["headers"])["ce_id"] == together[0].id


async def test_add_if_inserted_stages_only_with_a_row_it_inserted(
    pool: db.Pool, topic: str
) -> None:
    await pool.execute("CREATE TABLE things (id text PRIMARY KEY)")
    insert = "INSERT INTO things (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id"
    plain, first, repeat = training_event(), training_event(), training_event()
    async with db.transaction(pool) as conn:
        await outbox.add(conn, plain, topic=topic, key=plain.subject)
        added = [
            await outbox.add_if_inserted(conn, insert, ["t-1"], event, topic=topic, key="t-1")
            for event in (first, repeat)
        ]
    assert added == [True, False]
    assert await pool.fetchval("SELECT count(*) FROM things") == 1
    rows = await pool.fetch("SELECT event_id, topic, key, value, headers FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [plain.id, first.id]
    staged, reference = rows[1], rows[0]
    assert (staged["topic"], staged["key"]) == (topic, b"t-1")
    assert [name for name, _ in staged["headers"]] == [name for name, _ in reference["headers"]]
    assert dict(staged["headers"])["ce_id"] == first.id
    assert staged["value"] == to_record(first, topic=topic, key="t-1").value


async def test_a_staging_merges_what_the_statement_resolved_into_the_event_data(
    pool: db.Pool, topic: str
) -> None:
    """``outbox.staging`` with ``resolved``: a field only the statement knows (here the course a
    lookup table names) replaces the event's; everything else is the event as serialised."""
    await pool.execute("CREATE TABLE courses (staff_id text PRIMARY KEY, course_id text)")
    await pool.execute("INSERT INTO courses VALUES ('s-known', 'security-101')")
    staging = outbox.staging(
        2, rows="found", resolved="jsonb_build_object('course_id', found.course_id)"
    )
    statement = f"""
        WITH found AS (SELECT (SELECT course_id FROM courses WHERE staff_id = $1) AS course_id),
             staged AS ({staging})
        SELECT count(*) FROM staged"""
    known, unknown = training_event("s-known"), training_event("s-unknown")
    for event in (known, unknown):
        staff_id = _data(event, topic)["staff_id"]
        args = outbox.staging_args(event, topic=topic, key="k")
        assert await pool.fetchval(statement, staff_id, *args) == 1
    rows = await pool.fetch("SELECT event_id, value FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [known.id, unknown.id]
    staged = [json.loads(r["value"]) for r in rows]
    assert [data["course_id"] for data in staged] == ["security-101", None]
    for data, event in zip(staged, (known, unknown), strict=True):
        original = _data(event, topic)
        assert {**data, "course_id": original["course_id"]} == original


def _data(event: CloudEvent[BaseModel], topic: str) -> dict[str, Any]:
    """The event's data as its record carries it."""
    value = to_record(event, topic=topic, key="k").value
    assert value is not None
    data: dict[str, Any] = json.loads(value)
    return data
