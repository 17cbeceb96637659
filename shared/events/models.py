"""The data payload of every v1 event type (DESIGN §2).

Contracts only: names, types and bounds that producers and consumers agree on. What the values
mean, and when an event is emitted, belongs to the service that owns the type.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Target = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(max_length=4000)]
Detail = Annotated[str, StringConstraints(max_length=1000)]
Count = Annotated[int, Field(ge=0)]
StageIndex = Annotated[int, Field(ge=0)]

Outcome = Literal["pass", "pending", "inconclusive", "error", "fail"]
Severity = Literal["low", "medium", "high", "critical"]
FeedbackKind = Literal["survey", "issue", "comment"]
TrainingResult = Literal["completed", "passed", "failed"]
AdvanceMode = Literal["manual", "auto"]
PauseCause = Literal["manual", "guardrail"]
Channel = Literal["inbox", "email", "slack", "teams", "dingtalk", "wecom", "feishu"]


class EventData(BaseModel):
    """Base of every payload. Unknown fields are ignored so that consumers survive additive
    changes; instances are frozen because an event states a fact."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


# --- onramp.directory (external HR) ---------------------------------------------------------


class StaffUpserted(EventData):
    """A person as the directory knows them now: the whole record, not a patch."""

    staff_id: Id
    name: Name
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    department_id: Id | None = None
    manager_id: Id | None = None
    roles: list[Code] = []
    timezone: Code = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin")
    locale: Code = Field(default="en", description="BCP 47 language tag, e.g. de-DE")
    active: bool = True


class DepartmentUpserted(EventData):
    department_id: Id
    name: Name
    head_staff_id: Id | None = None
    active: bool = True


# --- onramp.training (external LMS) ---------------------------------------------------------


class TrainingCompleted(EventData):
    staff_id: Id
    course_id: Id
    result: TrainingResult
    completed_at: AwareDatetime


# --- onramp.feedback.intake / onramp.feedback -----------------------------------------------


class FeedbackSubmitted(EventData):
    """One survey answer, issue or comment.

    Beyond the schema: anonymous feedback has no staff_id (checked here, so that no producer
    can leak one), a survey needs csat or nps, an issue needs a severity. respondent_key is a
    keyed hash, stable per person and rollout; survey tools may omit it, the feedback service
    always sets it on onramp.feedback.
    """

    feedback_id: Id
    rollout_id: Id
    kind: FeedbackKind
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    severity: Severity | None = None
    category: Code | None = None
    text: Text = ""
    anonymous: bool = False
    staff_id: Id | None = None
    department_id: Id | None = None
    respondent_key: Id | None = None
    submitted_at: AwareDatetime

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        # Custom error types, because dead-letter messages show error types and never values.
        if self.anonymous and self.staff_id is not None:
            raise PydanticCustomError(
                "anonymous_with_staff_id", "anonymous feedback has no staff id"
            )
        if self.kind == "survey" and self.csat is None and self.nps is None:
            raise PydanticCustomError("survey_without_score", "a survey answer needs csat or nps")
        if self.kind == "issue" and self.severity is None:
            raise PydanticCustomError("issue_without_severity", "an issue needs a severity")
        return self


class FeedbackAcknowledged(EventData):
    feedback_id: Id
    rollout_id: Id
    actor: Id = Field(description="staff id of the person who acknowledged")
    at: AwareDatetime


class FeedbackResolved(EventData):
    feedback_id: Id
    rollout_id: Id
    actor: Id = Field(description="staff id of the person who resolved")
    resolution: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    at: AwareDatetime


# --- onramp.rollout: parts ------------------------------------------------------------------


class CohortSpec(EventData):
    """Who a stage is meant for, as planned; members are resolved when the stage starts."""

    department_ids: list[Id] = []
    staff_ids: list[Id] = []
    percent: Annotated[float, Field(gt=0, le=100)] | None = None


class StagePlan(EventData):
    index: StageIndex
    name: Name
    cohort: CohortSpec
    required_course_ids: list[Id] = []
    advance_mode: AdvanceMode = "manual"
    min_soak_seconds: Count = 0


class Cohort(EventData):
    """The staff a stage covers, resolved from the directory when the event was made, so that
    consumers (notify) need no copy of the cohort rules."""

    department_ids: list[Id] = []
    staff_count: Count
    member_ids: list[Id] = []


class Stage(EventData):
    name: Name
    cohort: Cohort
    required_course_ids: list[Id] = []


class Criterion(EventData):
    """One gate criterion as evaluated: enough to show why the gate said what it said."""

    name: Code = Field(description="satisfaction, training, blockers, soak, ...")
    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    sample_size: Count | None = None
    lower: float | None = Field(default=None, description="lower confidence bound")
    upper: float | None = Field(default=None, description="upper confidence bound")
    detail: Detail = ""


class Evidence(EventData):
    """The evidence snapshot a gate decision was made on."""

    outcome: Outcome
    criteria: list[Criterion]
    evaluated_at: AwareDatetime


class Approval(EventData):
    approver_id: Id
    comment: Text = ""
    at: AwareDatetime


# --- onramp.rollout -------------------------------------------------------------------------

Actor = Annotated[Id, Field(description="staff id, or 'auto' when the system acted")]


class RolloutCreated(EventData):
    rollout_id: Id
    name: Name
    description: Text = ""
    owner_id: Id
    stages: Annotated[list[StagePlan], Field(min_length=1)]
    actor: Actor
    at: AwareDatetime


class RolloutStageAdvanced(EventData):
    """A stage started; from_stage is None when this started the rollout."""

    rollout_id: Id
    from_stage: StageIndex | None
    to_stage: StageIndex
    stage: Stage
    next_stage: Stage | None = Field(default=None, description="None at the last stage")
    actor: Actor
    evidence: Evidence
    approvals: list[Approval] = []
    override_reason: Text | None = None
    at: AwareDatetime


class RolloutGateChanged(EventData):
    rollout_id: Id
    stage: StageIndex
    previous: Outcome | None = Field(description="None at the stage's first evaluation")
    outcome: Outcome
    approvals_required: Count = 0
    evidence: Evidence
    at: AwareDatetime


class RolloutApprovalRecorded(EventData):
    rollout_id: Id
    stage: StageIndex = Field(description="the stage this approval lets the rollout leave")
    approver_id: Id
    comment: Text = ""
    approvals: Count = Field(description="approvals recorded so far, this one included")
    approvals_required: Count
    decision: Literal["approve", "reject"] = Field(
        default="approve", description="a rejection blocks the advance until it is withdrawn"
    )
    at: AwareDatetime


class RolloutPaused(EventData):
    rollout_id: Id
    stage: StageIndex
    actor: Actor
    cause: PauseCause
    guardrail: Code | None = None
    reason: Text
    evidence: Evidence | None = None
    at: AwareDatetime


class RolloutResumed(EventData):
    rollout_id: Id
    stage: StageIndex
    actor: Actor
    reason: Text = ""
    at: AwareDatetime


class RolloutRolledBack(EventData):
    """cohort is the cohort of from_stage: the people to send back to the old system."""

    rollout_id: Id
    from_stage: StageIndex
    to_stage: StageIndex | None = Field(description="None when back to 'not started'")
    cohort: Cohort
    actor: Actor
    reason: Text
    at: AwareDatetime


class RolloutCompleted(EventData):
    """Leaving the last stage: a gate decision like an advance, with the same evidence."""

    rollout_id: Id
    stage: StageIndex = Field(description="the last stage")
    actor: Actor
    evidence: Evidence | None = None
    approvals: list[Approval] = []
    override_reason: Text | None = None
    at: AwareDatetime


# --- onramp.notify --------------------------------------------------------------------------


class _Notification(EventData):
    notification_id: Id
    recipient_id: Id
    channel: Channel
    template: Code
    source_event_id: Id
    source_event_type: Name
    rollout_id: Id | None = None
    at: AwareDatetime


class NotificationSent(_Notification):
    pass


class NotificationFailed(_Notification):
    attempts: Annotated[int, Field(ge=1)]
    error: Detail


class _Case(EventData):
    case_id: Id
    policy: Code
    rollout_id: Id | None = None
    feedback_id: Id | None = None
    at: AwareDatetime


class EscalationOpened(_Case):
    level: Count
    targets: list[Target] = Field(description="role:<r>, manager:submitter, staff:<id>, ...")
    reason: Text


class EscalationEscalated(_Case):
    level: Count
    targets: list[Target]
    repeat: Count = 0


class EscalationAcknowledged(_Case):
    actor: Actor


class EscalationClosed(_Case):
    actor: Actor
    reason: Text = ""
