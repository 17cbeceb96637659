"""What other systems send and what the rollouts look like: the fixed world of a chaos run
(departments, cohorts, IT support), the records outside producers publish, and the producer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel

from chaos.history import Input
from shared.events import CloudEvent, KafkaRecord, new_event, to_record, topics
from shared.events.models import (
    FeedbackSubmitted,
    StaffUpserted,
    TrainingCompleted,
)

STAGES = 20
ADMIN = "chaos-admin"
SUPPORT = ("chaos-it-a", "chaos-it-b")
FEEDBACK_ROLLOUT = "chaos-feedback"
SURVEY_SOURCE = "/chaos/survey-tool"
HR_SOURCE = "/chaos/hr"
LMS_SOURCE = "/chaos/lms"
SEVERITIES = ("low", "medium", "high", "critical")


def department(stage: int) -> str:
    return f"chaos-d{stage}"


def cohort(stage: int) -> list[str]:
    return [f"chaos-d{stage}-a", f"chaos-d{stage}-b"]


def support_email(staff_id: str) -> str:
    return f"{staff_id}@chaos.example"


class External:
    """Records produced the way another system would, with librdkafka; accepted = acked."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 2,
                "acks": "all",
                "enable.idempotence": False,
                "message.timeout.ms": 120_000,
            }
        )

    def send(self, record: KafkaRecord, item: Input | None = None) -> None:
        def delivered(err: KafkaError | None, message: Message) -> None:
            if item is not None:
                item.accepted = err is None
                item.facts["partition"] = message.partition()

        self._producer.produce(
            record.topic,
            record.value,
            record.key,
            headers=list(record.headers),
            on_delivery=delivered,
        )
        self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    async def flush(self, timeout: float = 60.0) -> None:
        left = await asyncio.to_thread(self._producer.flush, timeout)
        if left:
            raise TimeoutError(f"{left} records not acknowledged within {timeout:g} s")


def event_record(
    type_: str, source: str, key: str, data: BaseModel, topic: str, subject: str
) -> tuple[CloudEvent[BaseModel], KafkaRecord]:
    event = new_event(type_, source=source, subject=subject, data=data)
    return event, to_record(event, topic=topic, key=key)


def staff_record(staff_id: str, dept: str, roles: list[str], email: str | None = None) -> Any:
    data = StaffUpserted(
        staff_id=staff_id, name=staff_id, department_id=dept, roles=roles, email=email
    )
    return event_record(
        "onramp.staff.upserted.v1", HR_SOURCE, staff_id, data, topics.DIRECTORY, f"staff/{staff_id}"
    )


def training_record(staff_id: str, course_id: str) -> Any:
    data = TrainingCompleted(
        staff_id=staff_id, course_id=course_id, result="passed", completed_at=datetime.now(UTC)
    )
    return event_record(
        "onramp.training.completed.v1",
        LMS_SOURCE,
        staff_id,
        data,
        topics.TRAINING,
        f"staff/{staff_id}",
    )


def survey_record(
    external_id: str,
    csat: int,
    submitted_at: datetime | None = None,
    rollout_id: str = FEEDBACK_ROLLOUT,
) -> Any:
    data = FeedbackSubmitted(
        feedback_id=external_id,
        rollout_id=rollout_id,
        kind="survey",
        csat=csat,
        respondent_key=f"resp-{external_id}",
        department_id=department(0),
        submitted_at=submitted_at or datetime.now(UTC),
    )
    return event_record(
        "onramp.feedback.submitted.v1",
        SURVEY_SOURCE,
        FEEDBACK_ROLLOUT,
        data,
        topics.FEEDBACK_INTAKE,
        f"rollout/{FEEDBACK_ROLLOUT}",
    )


def plan(rollout_id: str) -> dict[str, Any]:
    """Stages whose gates always pass (no criteria): the load is about delivery, not gating."""
    stages = [
        {
            "name": f"stage-{k}",
            "cohort": {"department_ids": [department(k)]},
            "gate": {"satisfaction": None, "training": None, "blockers": None},
        }
        for k in range(STAGES)
    ]
    return {
        "rollout_id": rollout_id,
        "name": f"Chaos {rollout_id}",
        "owner_id": ADMIN,
        "stages": stages,
        "start_gate": {"training": None},
    }
