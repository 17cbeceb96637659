"""HTTP responses about a gate: every criterion, approvals, guardrails, what is missing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.rollout.domain.criteria import Criterion
from services.rollout.domain.lifecycle import Status
from services.rollout.domain.outcomes import Outcome
from services.rollout.handlers.views import GateView


class RequestOut(BaseModel):
    requested_by: str
    at: datetime


class DepartmentOut(BaseModel):
    department_id: str | None
    name: str
    members: int
    responses: int
    satisfied: int
    trained: int
    missing: int = Field(description="responses still needed, or staff still lacking a course")


class UntrainedOut(BaseModel):
    staff_id: str
    name: str
    department_id: str | None
    missing_course_ids: list[str]


class CriterionOut(BaseModel):
    name: str
    outcome: Outcome
    value: float | None
    threshold: float | None
    sample_size: int | None
    lower: float | None
    upper: float | None
    detail: str
    missing: list[str]
    departments: list[DepartmentOut]
    untrained: list[UntrainedOut] | None = Field(description="admins only; null for others")
    untrained_total: int
    blocker_ids: list[str]
    ready_at: datetime | None

    @classmethod
    def of(cls, c: Criterion, *, show_staff: bool, staff_limit: int) -> CriterionOut:
        return cls(
            name=c.name,
            outcome=c.outcome,
            value=c.value,
            threshold=c.threshold,
            sample_size=c.sample_size,
            lower=c.lower,
            upper=c.upper,
            detail=c.detail,
            missing=list(c.missing),
            departments=[
                DepartmentOut.model_validate(line, from_attributes=True) for line in c.departments
            ],
            untrained=[
                UntrainedOut.model_validate(u, from_attributes=True)
                for u in c.untrained[:staff_limit]
            ]
            if show_staff
            else None,
            untrained_total=len(c.untrained),
            blocker_ids=list(c.blocker_ids),
            ready_at=c.ready_at,
        )


class VoteOut(BaseModel):
    approver_id: str
    decision: Literal["approve", "reject"]
    comment: str
    at: datetime


class ApprovalsOut(BaseModel):
    required: int = Field(description="approvals the current outcome needs")
    approved: list[VoteOut]
    rejected: list[VoteOut]
    set_aside: list[VoteOut] = Field(description="the owner's or requester's own approvals")


class VerdictOut(BaseModel):
    action: Literal["advance", "await_approval", "refuse"]
    reason: str


class BreachOut(BaseModel):
    guardrail: str
    value: float
    limit: float
    reason: str


class GateOut(BaseModel):
    rollout_id: str
    status: Status
    stage: int | None = Field(description="the stage this gate leaves; null: the start gate")
    next_stage: int | None = Field(description="where passing leads; null: completion")
    outcome: Outcome
    evaluated_at: datetime
    criteria: list[CriterionOut]
    missing: list[str]
    approvals: ApprovalsOut
    advance: VerdictOut = Field(description="what an advance requested now would do")
    guardrails: list[BreachOut] = Field(description="guardrails breached now")
    advance_request: RequestOut | None

    @classmethod
    def of(cls, view: GateView, *, show_staff: bool, staff_limit: int) -> GateOut:
        rollout, report, votes = view.rollout, view.report, view.votes
        request = rollout.request

        def out(v: Any) -> VoteOut:
            return VoteOut.model_validate(v, from_attributes=True)

        return cls(
            rollout_id=rollout.rollout_id,
            status=rollout.status,
            stage=rollout.stage,
            next_stage=rollout.next_index,
            outcome=report.outcome,
            evaluated_at=report.evaluated_at,
            criteria=[
                CriterionOut.of(c, show_staff=show_staff, staff_limit=staff_limit)
                for c in report.criteria
            ],
            missing=list(report.missing),
            approvals=ApprovalsOut(
                required=view.verdict.approvals_required,
                approved=[out(v) for v in votes.approved],
                rejected=[out(v) for v in votes.rejected],
                set_aside=[out(v) for v in votes.set_aside],
            ),
            advance=VerdictOut(action=view.verdict.action, reason=view.verdict.reason),
            guardrails=[BreachOut.model_validate(b, from_attributes=True) for b in view.breaches],
            advance_request=None
            if request is None
            else RequestOut(requested_by=request.requested_by, at=request.at),
        )
