"""The feedback service as a real process: HTTP submissions and a survey tool publishing in
structured mode (librdkafka) make one consistent summary; anonymous feedback leaves no trace."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from confluent_kafka import Producer

from shared.events import to_structured_record, topics
from shared.settings import Settings
from tests.e2e.conftest import Stack
from tests.e2e.feedback.conftest import announce_rollout, hire, produce, published
from tests.integration.feedback.conftest import tables_mentioning, tool_answer
from tests.support.kafka import read_topic
from tests.support.polling import eventually

SURVEY_TOOL = "/survey/acme"


def survey(rollout_id: str, csat: int, **fields: Any) -> dict[str, Any]:
    return {"rollout_id": rollout_id, "kind": "survey", "csat": csat} | fields


async def post(stack: Stack, staff_id: str, body: dict[str, Any]) -> dict[str, Any]:
    async with stack.client("feedback", staff_id, "staff") as client:
        response = await client.post("/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


def publish_answer(survey_tool: Producer, rollout_id: str, **fields: Any) -> str:
    """A survey tool's answer in structured content mode; returns its CloudEvents id."""
    event = tool_answer(rollout_id, source=SURVEY_TOOL, **fields)
    produce(survey_tool, to_structured_record(event, topic=topics.FEEDBACK_INTAKE, key=rollout_id))
    return event.id


async def test_survey_tool_and_http_answers_make_one_consistent_summary(
    stack: Stack, hr_system: Producer, db_reader: asyncpg.Connection[Any], settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    rollout_id = f"r-{run}"
    fin = [f"fin-{run}-{n}" for n in range(6)]
    await announce_rollout(hr_system, db_reader, rollout_id)
    await hire(hr_system, db_reader, {**dict.fromkeys(fin, "finance"), f"hr-{run}": "hr"})

    # Over HTTP: fin-0 answers twice (the second time anonymously), hr reports an issue.
    await post(stack, fin[0], survey(rollout_id, 1))
    await post(stack, fin[0], survey(rollout_id, 5, anonymous=True))
    replaced_by_the_tool = await post(stack, fin[1], survey(rollout_id, 4))
    await post(stack, fin[2], survey(rollout_id, 2, nps=10))
    await post(stack, fin[3], survey(rollout_id, 5))
    issue = {"kind": "issue", "severity": "critical", "text": "Cannot sign in"}
    await post(stack, f"hr-{run}", {"rollout_id": rollout_id, **issue})

    # The survey tool: named answers (one newer than fin-1's HTTP answer), one sent twice under
    # the same CloudEvents id, an anonymous one under the tool's own pseudonym, one invalid.
    now = datetime.now(UTC)
    publish_answer(hr_system, rollout_id, anonymous=False, staff_id=fin[4], csat=4)
    publish_answer(
        hr_system, rollout_id, anonymous=False, staff_id=fin[1], csat=1, submitted_at=now
    )
    twice = tool_answer(rollout_id, source=SURVEY_TOOL, anonymous=False, staff_id=fin[5], csat=3)
    for _ in range(2):
        produce(
            hr_system, to_structured_record(twice, topic=topics.FEEDBACK_INTAKE, key=rollout_id)
        )
    publish_answer(hr_system, rollout_id, respondent_key="acme-77", department_id="finance", csat=2)
    invalid_id = publish_answer(hr_system, rollout_id, kind="comment", csat=3, text="x")
    hr_system.flush(10)

    async with stack.client("feedback", "admin-1", "admin") as admin:

        async def summary_with_every_answer() -> dict[str, Any] | None:
            response = await admin.get(f"/v1/rollouts/{rollout_id}/feedback-summary")
            body: dict[str, Any] = response.json()
            return body if body["answers"] == 9 else None

        summary = await eventually(summary_with_every_answer, timeout=30)
        assert summary is not None
        fin1_http = await admin.get(f"/v1/feedback/{replaced_by_the_tool['feedback_id']}")

    assert summary["respondents"] == 7  # fin-0 … fin-5 and the tool's anonymous respondent
    assert summary["csat"]["distribution"] == {"1": 1, "2": 2, "3": 1, "4": 1, "5": 2}
    assert summary["csat"]["satisfied"] == 3
    assert (summary["nps"]["responses"], summary["nps"]["score"]) == (1, 100.0)
    assert summary["issues"]["open_by_severity"]["critical"] == 1
    assert [(d["department_id"], d["respondents"]) for d in summary["departments"]] == [
        ("finance", 7)
    ]
    assert summary["hidden"] == {"departments": 1, "respondents": 0}  # hr: an issue, no answers
    assert fin1_http.json()["superseded"] is True  # the newer answer came from the survey tool

    canonical = await published(settings, db_reader, rollout_id, count=10)
    assert len(canonical) == 10  # 9 survey answers and the issue, the duplicate once
    sources = {json.loads(r.value)["feedback_id"] for r in canonical}
    assert len(sources) == 10
    headers = [{k: v.decode() for k, v in r.headers} for r in canonical]
    assert {h["ce_source"] for h in headers} == {"/onramp/feedback"}

    assert settings.kafka_bootstrap
    dead = await read_topic(settings.kafka_bootstrap, topics.dlt(topics.FEEDBACK_INTAKE), expect=1)
    (rejected,) = [r for r in dead if json.loads(r.value)["id"] == invalid_id]
    reasons = {k: v.decode() for k, v in rejected.headers if k.startswith("onramp.dlt.")}
    assert reasons["onramp.dlt.kind"] == "rejected"
    assert reasons["onramp.dlt.message"] == "Rejected: invalid feedback: score_not_on_survey"


async def test_anonymous_feedback_leaves_no_staff_id_in_tables_topics_or_logs(
    stack: Stack, hr_system: Producer, db_reader: asyncpg.Connection[Any], settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    rollout_id, quiet, named = f"r-{run}", f"quiet-{run}", f"named-{run}"
    await announce_rollout(hr_system, db_reader, rollout_id)
    await hire(hr_system, db_reader, {quiet: "legal", named: "legal"})

    base = {"rollout_id": rollout_id, "anonymous": True}
    async with stack.client("feedback", quiet, "staff") as client:
        for body in (
            {"kind": "survey", "csat": 2, "text": "Too many clicks"},
            {"kind": "comment", "text": "Nobody asked us"},
            {"kind": "issue", "severity": "high", "category": "reports", "text": "Export fails"},
        ):
            response = await client.post(
                "/v1/feedback", json=base | body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            assert response.status_code == 201, response.text
        issue = response.json()
        assert (issue["staff_id"], issue["department_id"]) == (None, "legal")
        assert (await client.get(f"/v1/feedback/{issue['feedback_id']}")).status_code == 200
    async with stack.client("feedback", f"it-{run}", "it_support") as support:
        await support.post(f"/v1/feedback/{issue['feedback_id']}/acknowledge")
        resolved = await support.post(
            f"/v1/feedback/{issue['feedback_id']}/resolve", json={"resolution": "Patched"}
        )
        assert resolved.status_code == 200
    # A named comment by someone else: proves the scans below would see a staff id.
    await post(stack, named, {"rollout_id": rollout_id, "kind": "comment", "text": "Fine by me"})

    records = await published(settings, db_reader, rollout_id, count=6)
    assert settings.kafka_bootstrap
    dead = await read_topic(settings.kafka_bootstrap, topics.dlt(topics.FEEDBACK), expect=0)

    assert await tables_mentioning(db_reader, "feedback", quiet) == []
    # Published events left the outbox: only the feedback row still names its author.
    assert await tables_mentioning(db_reader, "feedback", named) == ["feedback"]
    assert not [r for r in [*records, *dead] if quiet.encode() in _raw(r)]
    assert [r for r in records if named.encode() in _raw(r)]
    log_path = stack.services["feedback"].log_path
    assert log_path is not None
    assert quiet not in log_path.read_text()


def _raw(record: Any) -> bytes:
    """Key, value and headers of a record, as bytes to search."""
    parts = [record.key or b"", record.value or b""]
    parts += [name.encode() + value for name, value in record.headers]
    return b"\n".join(parts)
