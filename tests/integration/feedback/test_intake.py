"""Survey tools on onramp.feedback.intake, and the projections, through the consumer wrapper."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.feedback import config, repository
from services.feedback.domain import privacy
from services.feedback.domain.submission import intake_feedback_id
from services.feedback.handlers import queries
from shared import db
from shared.consumer import Outcome
from shared.events import (
    CloudEvent,
    KafkaRecord,
    new_event,
    to_record,
    to_structured_record,
    topics,
)
from shared.events.models import DepartmentUpserted, RolloutCompleted, StaffUpserted
from shared.settings import Settings
from tests.integration.feedback.conftest import (
    SURVEY_TOOL,
    Consumers,
    rollout_created,
    tool_answer,
)
from tests.support.kafka import read_topic

INTAKE, ROLLOUT, DIRECTORY = topics.FEEDBACK_INTAKE, topics.ROLLOUT, topics.DIRECTORY


async def known_rollout(consumers: Consumers) -> str:
    rollout_id = f"r-{uuid.uuid4().hex[:8]}"
    outcome = await consumers.deliver_event(rollout_created(rollout_id), ROLLOUT, rollout_id)
    assert outcome == Outcome.APPLIED
    return rollout_id


async def feedback_rows(consumers: Consumers) -> list[dict[str, Any]]:
    rows = await consumers.pool.fetch("SELECT * FROM feedback ORDER BY submitted_at")
    return [dict(row) for row in rows]


@pytest.mark.parametrize("mode", ["binary", "structured"])
async def test_a_survey_tool_answer_becomes_canonical_feedback(
    consumers: Consumers, mode: str
) -> None:
    rollout_id = await known_rollout(consumers)
    answer = tool_answer(rollout_id, respondent_key="tool-person-7", department_id="finance")
    encode = to_record if mode == "binary" else to_structured_record
    outcome = await consumers.deliver(encode(answer, topic=INTAKE, key=rollout_id))
    assert outcome == Outcome.APPLIED
    (row,) = await feedback_rows(consumers)
    assert row["feedback_id"] == intake_feedback_id(SURVEY_TOOL, answer.data.feedback_id)
    assert (row["channel"], row["source"], row["external_id"]) == (
        "intake",
        SURVEY_TOOL,
        answer.data.feedback_id,
    )
    (canonical,) = await consumers.events()
    assert (canonical.type, canonical.source) == (
        "onramp.feedback.submitted.v1",
        "/onramp/feedback",
    )
    data = canonical.data
    assert data.feedback_id == str(row["feedback_id"])
    assert (data.csat, data.anonymous, data.staff_id, data.department_id) == (
        4,
        True,
        None,
        "finance",
    )
    # The tool's pseudonym is keyed again with our secret: consumers never see the tool's own.
    assert data.respondent_key not in (None, "tool-person-7")


async def test_duplicates_have_one_effect(consumers: Consumers) -> None:
    rollout_id = await known_rollout(consumers)
    answer = tool_answer(rollout_id)
    resent_under_a_new_id = tool_answer(
        rollout_id, feedback_id=answer.data.feedback_id, submitted_at=answer.data.submitted_at
    )
    outcomes = [
        await consumers.deliver_event(answer, INTAKE, rollout_id),
        await consumers.deliver_event(answer, INTAKE, rollout_id),  # same source and id
        await consumers.deliver_event(resent_under_a_new_id, INTAKE, rollout_id),
    ]
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE, Outcome.APPLIED]
    assert len(await feedback_rows(consumers)) == 1
    assert len(await consumers.events()) == 1


async def test_invalid_records_are_dead_lettered_with_reasons(
    consumers: Consumers, settings: Settings
) -> None:
    assert settings.kafka_bootstrap
    rollout_id = await known_rollout(consumers)
    secret_text = "MY-PRIVATE-WORDS"
    no_text = tool_answer(rollout_id, kind="issue", severity="high", csat=None, text="  ")
    future = tool_answer(rollout_id, submitted_at=datetime.now(UTC) + timedelta(hours=2))
    scored_comment = tool_answer(rollout_id, kind="comment", text=secret_text)
    valid = to_record(tool_answer(rollout_id), topic=INTAKE, key=rollout_id)
    broken = json.loads(valid.value or b"") | {"csat": 9, "text": secret_text}
    out_of_range = KafkaRecord(valid.topic, valid.key, json.dumps(broken).encode(), valid.headers)
    for event in (no_text, future, scored_comment):
        assert await consumers.deliver_event(event, INTAKE, rollout_id) == Outcome.DEAD_LETTERED
    assert await consumers.deliver(out_of_range) == Outcome.DEAD_LETTERED

    dead = await read_topic(settings.kafka_bootstrap, f"{consumers.intake_topic}.dlt", expect=4)
    reasons = [
        {k: v.decode() for k, v in record.headers if k.startswith("onramp.dlt.")} for record in dead
    ]
    assert [(r["onramp.dlt.kind"], r["onramp.dlt.message"]) for r in reasons] == [
        ("rejected", "Rejected: invalid feedback: issue_without_text"),
        ("rejected", "Rejected: invalid feedback: submitted_in_future"),
        ("rejected", "Rejected: invalid feedback: score_not_on_survey"),
        ("invalid_data", "csat: less_than_equal"),
    ]
    assert all(r["onramp.dlt.topic"] == consumers.intake_topic for r in reasons)
    assert all(secret_text not in json.dumps(r) for r in reasons)
    assert await feedback_rows(consumers) == []


async def test_feedback_for_an_unknown_rollout_is_retried_then_dead_lettered(
    consumers: Consumers, settings: Settings
) -> None:
    assert settings.kafka_bootstrap
    outcome = await consumers.deliver_event(tool_answer("r-unknown"), INTAKE, "r-unknown")
    assert outcome == Outcome.DEAD_LETTERED
    (dead,) = await read_topic(settings.kafka_bootstrap, f"{consumers.intake_topic}.dlt", expect=1)
    headers = {k: v.decode() for k, v in dead.headers if k.startswith("onramp.dlt.")}
    assert headers["onramp.dlt.kind"] == "handler_error"
    assert headers["onramp.dlt.attempts"] == "3"
    assert "UnknownRollout" in headers["onramp.dlt.message"]


async def test_a_named_tool_answer_and_an_http_answer_share_a_respondent(
    consumers: Consumers,
) -> None:
    rollout_id = await known_rollout(consumers)
    answer = tool_answer(rollout_id, anonymous=False, staff_id="s-17")
    await consumers.deliver_event(answer, INTAKE, rollout_id)
    (canonical,) = await consumers.events()
    http_key = privacy.respondent_key(
        config.policy().secret, privacy.Staff("s-17"), rollout_id, kind="survey", anonymous=False
    )
    assert canonical.data.respondent_key == http_key
    assert canonical.data.staff_id == "s-17"


async def test_the_newest_answer_of_a_tool_respondent_counts_whatever_the_arrival_order(
    consumers: Consumers,
) -> None:
    rollout_id = await known_rollout(consumers)
    now = datetime.now(UTC)
    newer = tool_answer(rollout_id, respondent_key="p-1", csat=5, submitted_at=now)
    older = tool_answer(rollout_id, respondent_key="p-1", csat=1, submitted_at=now - timedelta(1))
    other = tool_answer(rollout_id, csat=2)  # a tool that names nobody: a respondent of its own
    for event in (newer, older, other):
        await consumers.deliver_event(event, INTAKE, rollout_id)
    shown = {}
    async with db.transaction(consumers.pool) as conn:
        for event in (newer, older, other):
            feedback_id = intake_feedback_id(SURVEY_TOOL, event.data.feedback_id)
            shown[event.data.csat] = (await queries.visible_row(conn, feedback_id))["superseded"]
    assert shown == {5: False, 1: True, 2: False}


async def test_any_rollout_event_makes_its_rollout_known(consumers: Consumers) -> None:
    rollout_id = f"r-{uuid.uuid4().hex[:8]}"
    completed = new_event(
        "onramp.rollout.completed.v1",
        source="/onramp/rollout",
        subject=f"rollout/{rollout_id}",
        data=RolloutCompleted(rollout_id=rollout_id, stage=2, actor="auto", at=datetime.now(UTC)),
    )
    await consumers.deliver_event(completed, ROLLOUT, rollout_id)
    await consumers.deliver_event(rollout_created(rollout_id, "Late name"), ROLLOUT, rollout_id)
    async with db.transaction(consumers.pool) as conn:
        known = await repository.rollout(conn, rollout_id)
    assert known is not None
    assert known["name"] == "Late name"
    outcome = await consumers.deliver_event(tool_answer(rollout_id), INTAKE, rollout_id)
    assert outcome == Outcome.APPLIED


def _staff(staff_id: str, department_id: str, at: datetime) -> CloudEvent[Any]:
    data = StaffUpserted(staff_id=staff_id, name="Someone", department_id=department_id)
    return new_event(
        "onramp.staff.upserted.v1",
        source="/hr",
        subject=f"staff/{staff_id}",
        data=data,
        time=at,
    )


async def test_the_directory_projection_keeps_departments_under_pseudonyms(
    consumers: Consumers,
) -> None:
    now = datetime.now(UTC)
    for event in (
        _staff("s-named-42", "hr", now),
        _staff("s-named-42", "finance", now - timedelta(1)),
    ):
        await consumers.deliver_event(event, DIRECTORY, "s-named-42")
    department = new_event(
        "onramp.department.upserted.v1",
        source="/hr",
        subject="department/hr",
        data=DepartmentUpserted(department_id="hr", name="Human resources"),
    )
    await consumers.deliver_event(department, DIRECTORY, "hr")
    rows = await consumers.pool.fetch("SELECT * FROM people")
    assert [(r["person_key"], r["department_id"]) for r in rows] == [
        (privacy.person_key(config.policy().secret, "s-named-42"), "hr")  # the older event lost
    ]
    assert await consumers.pool.fetchval("SELECT name FROM departments") == "Human resources"
    rollout_id = await known_rollout(consumers)
    named = tool_answer(rollout_id, anonymous=False, staff_id="s-named-42")
    await consumers.deliver_event(named, INTAKE, rollout_id)
    (row,) = await feedback_rows(consumers)
    assert row["department_id"] == "hr"  # looked up when the tool does not say
