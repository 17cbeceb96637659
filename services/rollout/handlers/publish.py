"""Stage ``rollout.*`` events in the outbox and write the same change to the timeline.

Every state change goes through :func:`emit` (or :func:`note` when no event type exists for it),
so the timeline and the published history cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic_core import to_json

from services.rollout.domain.approvals import Vote
from services.rollout.domain.cohorts import Person, departments_of
from services.rollout.domain.gate import GateReport
from services.rollout.domain.plan import StageRule
from services.rollout.metrics import CHANGES
from services.rollout.repository import trail
from services.rollout.repository.trail import Entry
from services.rollout.settings import get_settings
from shared import outbox
from shared.db import Conn
from shared.events import TYPE_OF, new_event, source, topics
from shared.events.models import (
    Approval,
    Cohort,
    Criterion,
    EventData,
    Evidence,
    RolloutRolledBack,
    RolloutStageAdvanced,
    Stage,
)
from shared.logs import get_logger

log = get_logger("onramp.rollout")

SOURCE = source("rollout")
Fits = TypeVar("Fits", RolloutStageAdvanced, RolloutRolledBack)
_DETAIL_MAX = 1000


def evidence(report: GateReport) -> Evidence:
    """The evidence snapshot of a decision, as events carry it."""
    return Evidence(
        outcome=report.outcome,
        criteria=[
            Criterion(
                name=c.name,
                outcome=c.outcome,
                value=c.value,
                threshold=c.threshold,
                sample_size=c.sample_size,
                lower=c.lower,
                upper=c.upper,
                detail=c.detail[:_DETAIL_MAX],
            )
            for c in report.criteria
        ],
        evaluated_at=report.evaluated_at,
    )


def cohort(people: Sequence[Person]) -> Cohort:
    return Cohort(
        department_ids=departments_of(people),
        staff_count=len(people),
        member_ids=[p.staff_id for p in people],
    )


def stage(rule: StageRule, people: Sequence[Person]) -> Stage:
    return Stage(
        name=rule.name, cohort=cohort(people), required_course_ids=rule.required_course_ids
    )


def approvals(votes: Iterable[Vote]) -> list[Approval]:
    return [Approval(approver_id=v.approver_id, comment=v.comment, at=v.at) for v in votes]


def fit(data: Fits) -> Fits:
    """Keep an event under ``ONRAMP_ROLLOUT_MAX_EVENT_BYTES``: a record the broker refused
    would stall the outbox. Member lists go first (the next cohort's, then the stage's);
    counts and departments stay, and the drop is logged."""
    limit = get_settings().rollout_max_event_bytes
    parts = ("next_stage", "stage") if isinstance(data, RolloutStageAdvanced) else ("cohort",)
    for part in parts:
        if len(to_json(data)) <= limit:
            break
        current: Stage | Cohort | None = getattr(data, part)
        if isinstance(current, Stage):
            thin = current.model_copy(update={"cohort": _thin(current.cohort)})
            data = data.model_copy(update={part: thin})
        elif isinstance(current, Cohort):
            data = data.model_copy(update={part: _thin(current)})
        log.warning("rollout.member_ids_omitted", rollout_id=data.rollout_id, part=part)
    return data


def _thin(members: Cohort) -> Cohort:
    return members.model_copy(update={"member_ids": []})


def _without_members(value: Any) -> Any:
    """Timeline copies of events keep counts, not member lists (they can be 10,000 long)."""
    if isinstance(value, dict):
        return {k: _without_members(v) for k, v in value.items() if k != "member_ids"}
    if isinstance(value, list):
        return [_without_members(v) for v in value]
    return value


async def emit(
    conn: Conn,
    rollout_id: str,
    data: EventData,
    *,
    actor: str,
    stage: int | None,
    at: datetime,
    reason: str = "",
    evidence: Evidence | None = None,
) -> None:
    type_ = TYPE_OF[type(data)]
    event = new_event(type_, source=SOURCE, subject=f"rollout/{rollout_id}", data=data, time=at)
    await outbox.add(conn, event, topic=topics.ROLLOUT, key=rollout_id)
    kind = type_.removeprefix("onramp.rollout.").removesuffix(".v1")
    payload = _without_members(data.model_dump(mode="json", exclude={"evidence"}))
    entry = Entry(
        rollout_id,
        at,
        kind,
        actor,
        stage,
        reason,
        None if evidence is None else evidence.model_dump(mode="json"),
        payload,
        event.id,
    )
    await trail.append_timeline(conn, entry)
    CHANGES.labels(kind).inc()
    log.info("rollout.changed", kind=kind, rollout_id=rollout_id, stage=stage, actor=actor)


async def note(
    conn: Conn,
    rollout_id: str,
    kind: str,
    *,
    actor: str,
    stage: int | None,
    at: datetime,
    reason: str = "",
    report: GateReport | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """A timeline entry for a change no event type describes (an advance waiting for
    approvals, a request withdrawn by a rejection)."""
    snapshot = None if report is None else evidence(report).model_dump(mode="json")
    entry = Entry(rollout_id, at, kind, actor, stage, reason, snapshot, data or {})
    await trail.append_timeline(conn, entry)
    CHANGES.labels(kind).inc()
    log.info("rollout.changed", kind=kind, rollout_id=rollout_id, stage=stage, actor=actor)
