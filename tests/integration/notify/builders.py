"""Real events, as the HR system, the LMS, the feedback and the rollout services send them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.events import CloudEvent, new_event
from shared.events import models as m

HR, LMS = "/hr/directory", "/lms"
FEEDBACK, ROLLOUT = "/onramp/feedback", "/onramp/rollout"


def event(
    type_: str, data: BaseModel, *, source: str, subject: str, at: datetime
) -> CloudEvent[Any]:
    return new_event(f"onramp.{type_}.v1", source=source, subject=subject, data=data, time=at)


def staff(staff_id: str, at: datetime, **fields: Any) -> CloudEvent[Any]:
    values: dict[str, Any] = {"name": staff_id.title(), "roles": ["staff"]} | fields
    data = m.StaffUpserted(staff_id=staff_id, **values)
    return event("staff.upserted", data, source=HR, subject=f"staff/{staff_id}", at=at)


def department(department_id: str, head: str | None, at: datetime) -> CloudEvent[Any]:
    data = m.DepartmentUpserted(department_id=department_id, name=department_id, head_staff_id=head)
    return event(
        "department.upserted", data, source=HR, subject=f"department/{department_id}", at=at
    )


def trained(
    staff_id: str, course: str, at: datetime, result: m.TrainingResult = "passed"
) -> CloudEvent[Any]:
    data = m.TrainingCompleted(
        staff_id=staff_id,
        course_id=course,
        result=result,
        completed_at=at,
    )
    return event("training.completed", data, source=LMS, subject=f"staff/{staff_id}", at=at)


def issue(
    rollout_id: str,
    at: datetime,
    *,
    severity: m.Severity = "critical",
    staff_id: str | None = "s-sub",
    department_id: str | None = "finance",
    feedback_id: str | None = None,
) -> CloudEvent[Any]:
    data = m.FeedbackSubmitted(
        feedback_id=feedback_id or f"f-{uuid.uuid4().hex[:8]}",
        rollout_id=rollout_id,
        kind="issue",
        severity=severity,
        category="login",
        text="Cannot sign in",
        anonymous=staff_id is None,
        staff_id=staff_id,
        department_id=department_id,
        respondent_key="k",
        submitted_at=at,
    )
    return event(
        "feedback.submitted", data, source=FEEDBACK, subject=f"rollout/{rollout_id}", at=at
    )


def acknowledged(
    feedback_id: str, rollout_id: str, at: datetime, actor: str = "it-1"
) -> CloudEvent[Any]:
    data = m.FeedbackAcknowledged(
        feedback_id=feedback_id, rollout_id=rollout_id, actor=actor, at=at
    )
    return event(
        "feedback.acknowledged", data, source=FEEDBACK, subject=f"rollout/{rollout_id}", at=at
    )


def resolved(
    feedback_id: str, rollout_id: str, at: datetime, actor: str = "it-1"
) -> CloudEvent[Any]:
    data = m.FeedbackResolved(
        feedback_id=feedback_id, rollout_id=rollout_id, actor=actor, resolution="SSO fixed", at=at
    )
    return event("feedback.resolved", data, source=FEEDBACK, subject=f"rollout/{rollout_id}", at=at)


def _rollout(type_: str, data: BaseModel, rollout_id: str, at: datetime) -> CloudEvent[Any]:
    return event(type_, data, source=ROLLOUT, subject=f"rollout/{rollout_id}", at=at)


def created(rollout_id: str, owner: str, at: datetime) -> CloudEvent[Any]:
    plan = m.StagePlan(index=0, name="Pilot", cohort=m.CohortSpec(department_ids=["it"]))
    data = m.RolloutCreated(
        rollout_id=rollout_id, name="CRM 2027", owner_id=owner, stages=[plan], actor=owner, at=at
    )
    return _rollout("rollout.created", data, rollout_id, at)


EVIDENCE_PASS = {"outcome": "pass", "criteria": [{"name": "soak", "outcome": "pass"}]}


def evidence(outcome: m.Outcome, at: datetime) -> m.Evidence:
    return m.Evidence(
        outcome=outcome,
        criteria=[m.Criterion(name="satisfaction", outcome=outcome, value=0.8, threshold=0.7)],
        evaluated_at=at,
    )


def stage(name: str, members: list[str], courses: list[str] | None = None) -> m.Stage:
    cohort = m.Cohort(department_ids=[name], staff_count=len(members), member_ids=members)
    return m.Stage(name=name, cohort=cohort, required_course_ids=courses or [])


def advanced(
    rollout_id: str,
    to_stage: int,
    at: datetime,
    *,
    current: m.Stage,
    following: m.Stage | None = None,
    override: str | None = None,
    actor: str = "owner-1",
) -> CloudEvent[Any]:
    data = m.RolloutStageAdvanced(
        rollout_id=rollout_id,
        from_stage=to_stage - 1 if to_stage else None,
        to_stage=to_stage,
        stage=current,
        next_stage=following,
        actor=actor,
        evidence=evidence("fail" if override else "pass", at),
        override_reason=override,
        at=at,
    )
    return _rollout("rollout.stage_advanced", data, rollout_id, at)


def gate(
    rollout_id: str,
    stage_index: int,
    previous: m.Outcome | None,
    outcome: m.Outcome,
    at: datetime,
    approvals: int = 0,
) -> CloudEvent[Any]:
    data = m.RolloutGateChanged(
        rollout_id=rollout_id,
        stage=stage_index,
        previous=previous,
        outcome=outcome,
        approvals_required=approvals,
        evidence=evidence(outcome, at),
        at=at,
    )
    return _rollout("rollout.gate_changed", data, rollout_id, at)


def paused(
    rollout_id: str, stage_index: int, at: datetime, cause: m.PauseCause = "guardrail"
) -> CloudEvent[Any]:
    data = m.RolloutPaused(
        rollout_id=rollout_id,
        stage=stage_index,
        actor="auto",
        cause=cause,
        guardrail="csat_floor" if cause == "guardrail" else None,
        reason="satisfaction fell below the floor",
        at=at,
    )
    return _rollout("rollout.paused", data, rollout_id, at)


def resumed(rollout_id: str, stage_index: int, at: datetime) -> CloudEvent[Any]:
    data = m.RolloutResumed(rollout_id=rollout_id, stage=stage_index, actor="owner-1", at=at)
    return _rollout("rollout.resumed", data, rollout_id, at)


def rolled_back(
    rollout_id: str, from_stage: int, to_stage: int | None, members: list[str], at: datetime
) -> CloudEvent[Any]:
    data = m.RolloutRolledBack(
        rollout_id=rollout_id,
        from_stage=from_stage,
        to_stage=to_stage,
        cohort=m.Cohort(staff_count=len(members), member_ids=members),
        actor="owner-1",
        reason="data migration bug",
        at=at,
    )
    return _rollout("rollout.rolled_back", data, rollout_id, at)


def completed(
    rollout_id: str, stage_index: int, at: datetime, override: str | None = None
) -> CloudEvent[Any]:
    data = m.RolloutCompleted(
        rollout_id=rollout_id,
        stage=stage_index,
        actor="owner-1",
        at=at,
        evidence=evidence("fail", at) if override else None,
        override_reason=override,
    )
    return _rollout("rollout.completed", data, rollout_id, at)
