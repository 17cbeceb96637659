"""Which rollout and feedback events notify whom (DESIGN §5).

Each rule takes the event's data and what the projections know (the rollout's owner and name,
the current cohort, who completed which course) and returns drafts. A recipient the directory
does not know still gets an inbox notification: they will see it when they sign in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.notify.domain.notifications import Draft, Priority, for_each
from services.notify.domain.reminders import missing_courses
from shared.events.models import (
    Evidence,
    RolloutCompleted,
    RolloutGateChanged,
    RolloutPaused,
    RolloutResumed,
    RolloutRolledBack,
    RolloutStageAdvanced,
)

_BLOCKING = frozenset({"fail", "error"})


@dataclass(frozen=True, slots=True)
class Rollout:
    """The notify service's view of a rollout (from rollout.created and later events)."""

    rollout_id: str
    name: str
    owner_id: str | None = None


def _context(rollout: Rollout, **more: Any) -> dict[str, Any]:
    return {"rollout_id": rollout.rollout_id, "rollout_name": rollout.name, **more}


def evidence(snapshot: Evidence) -> dict[str, Any]:
    """The evidence as templates and the inbox show it."""
    return {
        "outcome": snapshot.outcome,
        "criteria": [
            {
                "name": c.name,
                "outcome": c.outcome,
                "value": c.value,
                "threshold": c.threshold,
                "sample_size": c.sample_size,
                "detail": c.detail,
            }
            for c in snapshot.criteria
        ],
    }


def _owner(
    rollout: Rollout, template: str, data: Mapping[str, Any], priority: Priority
) -> list[Draft]:
    return [Draft(rollout.owner_id, template, priority, data)] if rollout.owner_id else []


def stage_advanced(
    event: RolloutStageAdvanced, rollout: Rollout, done: Mapping[str, Iterable[str]]
) -> list[Draft]:
    """The new cohort (what changes, their training, how to give feedback), the next cohort
    (get trained) and the owner (with the evidence)."""
    stage, following = event.stage, event.next_stage
    base = _context(rollout, stage_index=event.to_stage, stage_name=stage.name)
    drafts: list[Draft] = []
    joined_gaps = missing_courses(stage.cohort.member_ids, stage.required_course_ids, done)
    for member in sorted(set(stage.cohort.member_ids)):
        data = {
            **base,
            "required_courses": stage.required_course_ids,
            "missing_courses": joined_gaps.get(member, []),
        }
        drafts.append(Draft(member, "stage.joined", "normal", data))
    if following is not None:
        courses = following.required_course_ids
        gaps = missing_courses(following.cohort.member_ids, courses, done)
        for member in sorted(set(following.cohort.member_ids)):
            data = {
                **base,
                "next_stage_index": event.to_stage + 1,
                "next_stage_name": following.name,
                "required_courses": courses,
                "missing_courses": gaps.get(member, []),
            }
            drafts.append(Draft(member, "stage.next_up", "normal", data))
    owner_data = {
        **base,
        "from_stage": event.from_stage,
        "actor": event.actor,
        "cohort_size": stage.cohort.staff_count,
        "approvals": len(event.approvals),
        "override_reason": event.override_reason,
        "evidence": evidence(event.evidence),
    }
    priority: Priority = "normal" if event.override_reason else "low"
    return drafts + _owner(rollout, "stage.advanced", owner_data, priority)


def gate_changed(
    event: RolloutGateChanged, rollout: Rollout, approvers: Sequence[str]
) -> list[Draft]:
    """Owner: "ready to advance" when the gate turns to pass, "blocked" when it turns to fail
    or error. Approvers (never the owner, who asks): "approval needed" when it turns
    inconclusive and approvals are required."""
    data = _context(
        rollout,
        stage_index=event.stage,
        previous=event.previous,
        outcome=event.outcome,
        approvals_required=event.approvals_required,
        evidence=evidence(event.evidence),
    )
    if event.outcome == event.previous:
        return []
    if event.outcome == "pass":
        return _owner(rollout, "gate.ready", data, "normal")
    if event.outcome == "inconclusive" and event.approvals_required > 0:
        exclude = [rollout.owner_id] if rollout.owner_id else []
        return for_each(approvers, "gate.approval_needed", data, "high", exclude=exclude)
    if event.outcome in _BLOCKING and event.previous not in (None, *_BLOCKING):
        return _owner(rollout, "gate.blocked", data, "low")
    return []


def paused(event: RolloutPaused, rollout: Rollout, cohort: Sequence[str]) -> list[Draft]:
    data = _context(
        rollout,
        stage_index=event.stage,
        cause=event.cause,
        guardrail=event.guardrail,
        reason=event.reason,
    )
    return _audiences(rollout, cohort, "rollout.paused", data, "normal")


def resumed(event: RolloutResumed, rollout: Rollout, cohort: Sequence[str]) -> list[Draft]:
    data = _context(rollout, stage_index=event.stage, reason=event.reason)
    return _audiences(rollout, cohort, "rollout.resumed", data, "normal")


def rolled_back(event: RolloutRolledBack, rollout: Rollout) -> list[Draft]:
    """The cohort of the stage left goes back to the old system: high priority."""
    data = _context(
        rollout, from_stage=event.from_stage, to_stage=event.to_stage, reason=event.reason
    )
    return _audiences(rollout, event.cohort.member_ids, "rollout.rolled_back", data, "high")


def completed(event: RolloutCompleted, rollout: Rollout) -> list[Draft]:
    return _owner(rollout, "rollout.completed", _context(rollout, stage_index=event.stage), "low")


def _audiences(
    rollout: Rollout, cohort: Sequence[str], template: str, data: dict[str, Any], priority: Priority
) -> list[Draft]:
    """The cohort, and the owner with owner's wording (once, even if in the cohort)."""
    owner = [rollout.owner_id] if rollout.owner_id else []
    drafts = for_each(cohort, template, {**data, "audience": "cohort"}, priority, exclude=owner)
    return drafts + _owner(rollout, template, {**data, "audience": "owner"}, priority)


def feedback_resolved(
    *,
    feedback_id: str,
    rollout_id: str,
    submitter: str | None,
    resolution: str,
    category: str | None,
) -> list[Draft]:
    """ "You said, we did" to the submitter; anonymous feedback has no submitter to tell."""
    if submitter is None:
        return []
    data = {
        "feedback_id": feedback_id,
        "rollout_id": rollout_id,
        "category": category,
        "resolution": resolution,
    }
    return [Draft(submitter, "feedback.resolved", "normal", data)]
