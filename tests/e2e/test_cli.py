"""The ``onramp`` command against the session's broker and the running services, run as the
console script a user would type."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from onramp.deadletters import DeadLetter, read
from shared import db
from shared.consumer import Outcome, RawRecord, RecordProcessor, Rejected, RetryPolicy
from shared.events import CloudEvent, KafkaRecord, to_record, topics
from shared.kafka import Publisher
from shared.settings import Settings
from tests.e2e.conftest import Stack
from tests.support.events import TRAINING_COMPLETED, training_event
from tests.support.polling import eventually

ONRAMP = Path(sys.executable).with_name("onramp")


async def onramp(settings: Settings, *args: str) -> tuple[int, str, str]:
    """Run the console script; (exit code, stdout, stderr)."""
    assert ONRAMP.exists(), "the onramp console script is missing: pip install -e . (make does)"
    env = {**os.environ, "ONRAMP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        str(ONRAMP),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# ------------------------------------------------------------------------ directory import


async def staff_rows(conn: asyncpg.Connection[Any], schema: str, ids: list[str]) -> int:
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.staff WHERE staff_id = ANY($1)", ids
    )
    return count


async def test_directory_import_reaches_every_service(
    stack: Stack, db_reader: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    departments = [f"d{n}-{run}" for n in range(3)]
    rows = ["staff_id,name,email,department_id,department_name,department_head,roles"]
    ids = []
    for n in range(120):
        staff_id, department = f"s{n}-{run}", departments[n % 3]
        roles = "staff;it_support" if n == 0 else "staff"
        head = "true" if n < 3 else ""
        rows.append(
            f"{staff_id},Person {n},p{n}@example.com,{department},Dept {department},{head},{roles}"
        )
        ids.append(staff_id)
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text("\n".join(rows) + "\n")

    code, out, err = await onramp(stack.settings, "directory", "import", str(csv_file))
    assert code == 0, err
    assert "published 3 departments and 120 staff to onramp.directory" in out

    async def projected() -> bool:
        return all(
            [
                await staff_rows(db_reader, "rollout", ids) == 120,
                await staff_rows(db_reader, "notify", ids) == 120,
                *[
                    await db_reader.fetchval(
                        f"SELECT count(*) FROM {schema}.departments WHERE department_id = ANY($1)",
                        departments,
                    )
                    == 3
                    for schema in ("feedback", "rollout", "notify")
                ],
            ]
        )

    await eventually(projected, timeout=45, interval=0.2)
    roles = await db_reader.fetchval("SELECT roles FROM notify.staff WHERE staff_id = $1", ids[0])
    assert sorted(roles) == ["it_support", "staff"]
    heads = await db_reader.fetch(
        "SELECT department_id, head_staff_id FROM rollout.departments"
        " WHERE department_id = ANY($1)",
        departments,
    )
    assert {r["department_id"]: r["head_staff_id"] for r in heads} == {
        departments[n]: ids[n] for n in range(3)
    }


# ------------------------------------------------------------------------------- publish


async def find_record(settings: Settings, topic: str, event_id: str) -> DeadLetter:
    """The record of ``topic`` whose ce_id is ``event_id`` (``deadletters.read`` reads any
    topic from the beginning, without a consumer group)."""

    async def matching() -> list[DeadLetter]:
        return [r for r in await read(settings, topic) if r.header("ce_id") == event_id]

    # The embedded broker's end offset can lag a just-acknowledged write: read until it shows.
    found = await eventually(matching, timeout=20)
    assert len(found) == 1, found
    return found[0]


async def test_publish_sends_a_file_in_binary_mode_keyed_by_the_aggregate(
    settings: Settings, tmp_path: Path
) -> None:
    event_id, staff_id = str(uuid.uuid4()), f"s-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "training.json"
    file.write_text(
        json.dumps(
            {
                "specversion": "1.0",
                "id": event_id,
                "source": "/lms",
                "type": "onramp.training.completed.v1",
                "subject": f"staff/{staff_id}",
                "time": "2026-11-27T09:00:00Z",
                "data": {
                    "staff_id": staff_id,
                    "course_id": "crm-basics",
                    "result": "passed",
                    "completed_at": "2026-11-27T08:55:00Z",
                },
            }
        )
    )
    code, out, err = await onramp(settings, "publish", str(file))
    assert code == 0, err
    assert f"published: onramp.training.completed.v1 id={event_id} → onramp.training" in out

    record = await find_record(settings, topics.TRAINING, event_id)  # published: acks=all
    headers = dict(record.headers)
    assert record.key == staff_id.encode()
    assert headers["ce_type"] == b"onramp.training.completed.v1"
    assert headers["ce_source"] == b"/lms"
    assert headers["content-type"] == b"application/json"
    assert json.loads(record.value or b"")["course_id"] == "crm-basics"


# ------------------------------------------------------------------------------ dead letters


@pytest.fixture
async def effects(pool: db.Pool) -> db.Pool:
    await pool.execute("CREATE TABLE effects (event_id text PRIMARY KEY)")
    return pool


def raw(record: Any) -> RawRecord:
    return RawRecord(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        tuple(record.headers),
    )


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[Publisher]:
    started = Publisher(settings, client_id="test-cli-consumer")
    yield started
    await started.stop()


async def test_dead_letters_are_listed_and_replayed_after_a_fix(
    settings: Settings, topic: str, effects: db.Pool, publisher: Publisher
) -> None:
    fixed = False

    async def handler(conn: db.Conn, event: CloudEvent[Any]) -> None:
        if not fixed:
            raise Rejected("course catalogue has no such course")
        await conn.execute("INSERT INTO effects VALUES ($1)", event.id)

    processor = RecordProcessor(
        consumer=f"test.{topic}",
        handlers={TRAINING_COMPLETED: handler},
        pool=effects,
        publisher=publisher,
        policy=RetryPolicy(max_attempts=1, initial_backoff_s=0.01),
        max_record_bytes=64 * 1024,
    )
    staff_id = f"s-{uuid.uuid4().hex[:8]}"
    good = training_event(staff_id)
    poison = KafkaRecord(topic, b"k-poison", b"not json at all", (("ce_id", b"x"),))
    await publisher.send_all([to_record(good, topic=topic, key=staff_id), poison])
    for record in await read(settings, topic):
        assert await processor.process(raw(record)) == Outcome.DEAD_LETTERED

    code, out, err = await onramp(settings, "dlt", "list", topic, "--json")
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(x["dlt"], x["reasons"]["kind"]) for x in listed] == [
        (f"{topic}.dlt:0:0", "rejected"),
        (f"{topic}.dlt:0:1", "not_json"),
    ]
    assert listed[0]["reasons"]["topic"] == topic
    assert listed[0]["reasons"]["offset"] == "0"
    assert listed[0]["id"] == good.id
    assert listed[0]["type"] == TRAINING_COMPLETED
    assert "Rejected: course catalogue has no such course" in listed[0]["reasons"]["message"]

    code, table, err = await onramp(settings, "dlt", "list", f"{topic}.dlt")
    assert code == 0, err
    assert "rejected" in table
    assert "not_json" in table

    fixed = True
    code, out, err = await onramp(settings, "dlt", "replay", topic, "--offset", "0")
    assert code == 0, err
    assert f"replayed {topic}.dlt:0:0 → {topic} (rejected)" in out

    records = await read(settings, topic)
    assert len(records) == 3
    replayed = records[2]
    assert (replayed.key, replayed.value) == (records[0].key, records[0].value)
    assert replayed.header("ce_id") == good.id
    assert replayed.header("onramp.dlt.replayed_from") == f"{topic}.dlt:0:0"
    assert replayed.header("onramp.dlt.kind") is None
    assert await processor.process(raw(replayed)) == Outcome.APPLIED
    assert await effects.fetchval("SELECT event_id FROM effects") == good.id

    code, out, err = await onramp(settings, "dlt", "replay", topic, "--all", "--dry-run")
    assert code == 0, err
    assert out.count("would replay") == 2
    missing = await onramp(settings, "dlt", "replay", topic, "--offset", "7")
    assert missing[0] == 1
    assert "no dead letter" in missing[2]
