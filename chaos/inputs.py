"""Faults in what comes in: poison records of every kind, and duplicate deliveries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from chaos.cluster import until
from chaos.faults import Context, Fault, Scenario
from chaos.history import Input
from chaos.load import Pending
from chaos.records import FEEDBACK_ROLLOUT, staff_record, survey_record, training_record
from shared.events import KafkaRecord, topics


def _poisons(good: KafkaRecord) -> list[tuple[str, str, bytes | None, list[tuple[str, bytes]]]]:
    """(label, expected dead-letter kind, value, headers) built around a good record."""
    headers = list(good.headers)

    def swap(name: str, value: bytes) -> list[tuple[str, bytes]]:
        return [(k, value if k == name else v) for k, v in headers]

    return [
        ("not-json", "not_json", b"\x00{not json", headers),
        ("tombstone", "not_json", None, headers),
        ("wrong-schema", "invalid_data", b'{"unexpected": true}', headers),
        ("unknown-type", "unknown_type", good.value, swap("ce_type", b"onramp.nonsense.v1")),
        ("too-big", "too_big", b'"' + b"x" * 20_000 + b'"', headers),
        ("no-headers", "invalid_envelope", good.value, []),
        ("bad-time", "invalid_envelope", good.value, swap("ce_time", b"yesterday")),
        ("bad-specversion", "invalid_envelope", good.value, swap("ce_specversion", b"0.3")),
        ("no-id", "invalid_envelope", good.value, [(k, v) for k, v in headers if k != "ce_id"]),
        (
            "structured-array",
            "invalid_envelope",
            b"[]",
            [("content-type", b"application/cloudevents+json")],
        ),
    ]


class Poison(Scenario):
    name = "poison"
    promises = "5"
    summary = "every kind of bad record on each input topic, each followed by a good one"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        load = ctx.load
        goods: list[tuple[KafkaRecord, Callable[[str], Input]]] = [
            (staff_record("chaos-poison-key", "chaos-load", [])[1], load.send_staff),
            (training_record("chaos-poison-key", "c")[1], load.send_training),
            (survey_record("poison", 3)[1], load.send_survey),
        ]
        count = 0
        for good, follow in goods:
            cases = _poisons(good)
            if good.topic == topics.FEEDBACK_INTAKE:  # valid, but breaks a feedback rule
                future = survey_record("future", 3, submitted_at=datetime(2099, 1, 1, tzinfo=UTC))
                cases.append(
                    ("in-the-future", "rejected", future[1].value, list(future[1].headers))
                )
                stranger = survey_record("stranger", 3, rollout_id="chaos-no-such-rollout")[1]
                cases.append(
                    ("unknown-rollout", "handler_error", stranger.value, list(stranger.headers))
                )
            for label, kind, value, headers in cases:
                poison_id = f"{load.trial}-{good.topic}-{label}-{uuid.uuid4().hex[:6]}"
                item = load.history.add(
                    Input(load.trial, "poison", poison_id, time.monotonic(), None, None, {})
                )
                item.facts = {"topic": good.topic, "kind": kind}
                # The good record behind it shares its key, hence its partition.
                key = f"chaos-{load.trial}-pk{count}"
                if good.topic == topics.FEEDBACK_INTAKE:
                    key = FEEDBACK_ROLLOUT
                record = KafkaRecord(
                    good.topic,
                    key.encode(),
                    value,
                    (*headers, ("chaos.poison", poison_id.encode())),
                )
                load.external.send(record, item)
                follow(key)  # right behind it: the partition must not block
                count += 1
        fault.notes.append(f"{count} poison records")
        fault.cleared_at = time.monotonic()
        return fault


class Duplicates(Scenario):
    name = "duplicates"
    promises = "3"
    summary = "the same CloudEvent produced three times; a command repeated with its key"

    async def inject(self, ctx: Context) -> Fault:
        fault = Fault()
        load = ctx.load
        for _ in range(5):
            for send in (load.send_staff, load.send_training, load.send_survey):
                item = send()
                record = load.last_record
                assert record is not None
                for _ in range(2):
                    load.external.send(record)
                if item.kind == "survey":  # the tool sends it again under a new event id
                    load.external.send(survey_record(item.ident, 4)[1])
        client = load.client("feedback", "chaos-d0-a", "staff")
        body = {"rollout_id": FEEDBACK_ROLLOUT, "kind": "issue", "severity": "critical"}
        item = load.history.add(Input(load.trial, "issue", "", time.monotonic()))
        item.facts["severity"] = "critical"
        pending = Pending(item, client, "/v1/feedback", body)
        answers: list[str] = []
        for _ in range(3):
            await until(lambda: load.send_now(pending), 60, "the repeated command answered")
            answers.append(item.ident)
        if len(set(answers)) != 1:
            fault.failures.append(f"one Idempotency-Key, several feedback ids: {answers}")
        fault.notes.append("15 events sent three times, 1 command sent three times")
        fault.cleared_at = time.monotonic()
        return fault
