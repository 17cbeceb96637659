"""One valid data payload per catalogue type, for tests that need "some event of type X"."""

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.events import models as m

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

_EVIDENCE = m.Evidence(
    outcome="inconclusive",
    criteria=[
        m.Criterion(
            name="satisfaction",
            outcome="inconclusive",
            value=0.8,
            threshold=0.7,
            sample_size=14,
            lower=0.55,
            upper=0.93,
            detail="6 more responses from Finance",
        ),
        m.Criterion(name="soak", outcome="pass", value=172800, threshold=86400),
    ],
    evaluated_at=AT,
)
_COHORT = m.Cohort(department_ids=["dep-fin"], staff_count=2, member_ids=["s-1", "s-2"])
_STAGE = m.Stage(name="Finance", cohort=_COHORT, required_course_ids=["crm-101"])
_CASE: dict[str, Any] = {
    "case_id": "case-1",
    "policy": "high-issues",
    "feedback_id": "fb-1",
    "at": AT,
}
_NOTE: dict[str, Any] = {
    "notification_id": "n-1",
    "recipient_id": "s-1",
    "channel": "email",
    "template": "stage_advanced.cohort",
    "source_event_id": "5b0e5c8e-0d7a-4c1e-9d2a-1f0f3f0e9a11",
    "source_event_type": "onramp.rollout.stage_advanced.v1",
    "rollout_id": "r-1",
    "at": AT,
}

_SAMPLES: dict[str, BaseModel] = {
    "onramp.staff.upserted.v1": m.StaffUpserted(
        staff_id="s-1",
        name="Ada Lovelace",
        email="ada@example.com",
        department_id="dep-fin",
        manager_id="s-9",
        roles=["staff", "approver"],
        timezone="Europe/London",
        locale="en-GB",
    ),
    "onramp.department.upserted.v1": m.DepartmentUpserted(
        department_id="dep-fin", name="Finance", head_staff_id="s-9"
    ),
    "onramp.training.completed.v1": m.TrainingCompleted(
        staff_id="s-1", course_id="crm-101", result="passed", completed_at=AT
    ),
    "onramp.feedback.submitted.v1": m.FeedbackSubmitted(
        feedback_id="fb-1",
        rollout_id="r-1",
        kind="survey",
        csat=4,
        nps=9,
        text="Faster than the old one — mostly.",
        anonymous=True,
        department_id="dep-fin",
        respondent_key="rk-3f9a",
        submitted_at=AT,
    ),
    "onramp.feedback.acknowledged.v1": m.FeedbackAcknowledged(
        feedback_id="fb-1", rollout_id="r-1", actor="s-7", at=AT
    ),
    "onramp.feedback.resolved.v1": m.FeedbackResolved(
        feedback_id="fb-1", rollout_id="r-1", actor="s-7", resolution="Fixed the export.", at=AT
    ),
    "onramp.rollout.created.v1": m.RolloutCreated(
        rollout_id="r-1",
        name="New CRM",
        owner_id="s-9",
        stages=[
            m.StagePlan(index=0, name="Pilot", cohort=m.CohortSpec(staff_ids=["s-1", "s-2"])),
            m.StagePlan(
                index=1,
                name="Finance",
                cohort=m.CohortSpec(department_ids=["dep-fin"], percent=50),
                required_course_ids=["crm-101"],
                advance_mode="auto",
                min_soak_seconds=86400,
            ),
        ],
        actor="s-9",
        at=AT,
    ),
    "onramp.rollout.stage_advanced.v1": m.RolloutStageAdvanced(
        rollout_id="r-1",
        from_stage=0,
        to_stage=1,
        stage=_STAGE,
        actor="s-9",
        evidence=_EVIDENCE,
        approvals=[m.Approval(approver_id="s-5", comment="Go", at=AT)],
        override_reason=None,
        at=AT,
    ),
    "onramp.rollout.gate_changed.v1": m.RolloutGateChanged(
        rollout_id="r-1",
        stage=0,
        previous="pending",
        outcome="inconclusive",
        approvals_required=1,
        evidence=_EVIDENCE,
        at=AT,
    ),
    "onramp.rollout.approval_recorded.v1": m.RolloutApprovalRecorded(
        rollout_id="r-1", stage=0, approver_id="s-5", approvals=1, approvals_required=1, at=AT
    ),
    "onramp.rollout.paused.v1": m.RolloutPaused(
        rollout_id="r-1",
        stage=1,
        actor="auto",
        cause="guardrail",
        guardrail="satisfaction_floor",
        reason="satisfied share below the floor",
        evidence=_EVIDENCE,
        at=AT,
    ),
    "onramp.rollout.resumed.v1": m.RolloutResumed(
        rollout_id="r-1", stage=1, actor="s-9", reason="hotfix deployed", at=AT
    ),
    "onramp.rollout.rolled_back.v1": m.RolloutRolledBack(
        rollout_id="r-1",
        from_stage=1,
        to_stage=0,
        cohort=_COHORT,
        actor="s-9",
        reason="data loss",
        at=AT,
    ),
    "onramp.rollout.completed.v1": m.RolloutCompleted(
        rollout_id="r-1", stage=1, actor="auto", at=AT
    ),
    "onramp.notification.sent.v1": m.NotificationSent(**_NOTE),
    "onramp.notification.failed.v1": m.NotificationFailed(
        **_NOTE, attempts=5, error="SMTP 550 mailbox unavailable"
    ),
    "onramp.escalation.opened.v1": m.EscalationOpened(
        **_CASE, level=0, targets=["role:it_support"], reason="critical issue open"
    ),
    "onramp.escalation.escalated.v1": m.EscalationEscalated(
        **_CASE, level=1, targets=["manager:submitter", "staff:s-9"], repeat=0
    ),
    "onramp.escalation.acknowledged.v1": m.EscalationAcknowledged(**_CASE, actor="s-7"),
    "onramp.escalation.closed.v1": m.EscalationClosed(
        **_CASE, actor="s-7", reason="feedback resolved"
    ),
}


def sample_data(type_name: str) -> BaseModel:
    """A valid payload of ``type_name`` (payloads are frozen, so sharing one is safe)."""
    return _SAMPLES[type_name]
