"""Template data as the rules build it, one sample per notification kind."""

from __future__ import annotations

from typing import Any

EVIDENCE: dict[str, Any] = {
    "outcome": "inconclusive",
    "criteria": [
        {
            "name": "satisfaction",
            "outcome": "inconclusive",
            "value": 0.8,
            "threshold": 0.7,
            "sample_size": 14,
            "detail": "6 more responses from Finance",
        },
        {
            "name": "soak",
            "outcome": "pass",
            "value": 172800.0,
            "threshold": 86400.0,
            "sample_size": None,
            "detail": "",
        },
        {
            "name": "training",
            "outcome": "pending",
            "value": None,
            "threshold": None,
            "sample_size": None,
            "detail": "",
        },
    ],
}
_ROLLOUT = {"rollout_id": "r-1", "rollout_name": "CRM 2027"}
_CASE = {
    "case_id": "9b2f6a5e-0000-4000-8000-000000000001",
    "status": "open",
    "level": 1,
    "loop": 0,
    "reason": "why the case opened",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "stage.joined": {
        **_ROLLOUT,
        "stage_index": 1,
        "stage_name": "Finance",
        "required_courses": ["crm-101"],
        "missing_courses": ["crm-101"],
    },
    "stage.next_up": {
        **_ROLLOUT,
        "stage_index": 1,
        "stage_name": "Finance",
        "next_stage_index": 2,
        "next_stage_name": "Sales",
        "required_courses": ["crm-101", "crm-201"],
        "missing_courses": [],
    },
    "stage.advanced": {
        **_ROLLOUT,
        "stage_index": 1,
        "stage_name": "Finance",
        "from_stage": 0,
        "actor": "s-admin",
        "cohort_size": 40,
        "approvals": 2,
        "override_reason": "Quarter close cannot wait",
        "evidence": EVIDENCE,
    },
    "gate.ready": {
        **_ROLLOUT,
        "stage_index": 1,
        "previous": "pending",
        "outcome": "pass",
        "approvals_required": 0,
        "evidence": EVIDENCE,
    },
    "gate.approval_needed": {
        **_ROLLOUT,
        "stage_index": 1,
        "previous": "pending",
        "outcome": "inconclusive",
        "approvals_required": 2,
        "evidence": EVIDENCE,
    },
    "gate.blocked": {
        **_ROLLOUT,
        "stage_index": 1,
        "previous": "pass",
        "outcome": "fail",
        "approvals_required": 0,
        "evidence": EVIDENCE,
    },
    "rollout.paused": {
        **_ROLLOUT,
        "stage_index": 1,
        "cause": "guardrail",
        "guardrail": "satisfaction_floor",
        "reason": "CSAT fell",
        "audience": "owner",
    },
    "rollout.resumed": {**_ROLLOUT, "stage_index": 1, "reason": "", "audience": "cohort"},
    "rollout.rolled_back": {
        **_ROLLOUT,
        "from_stage": 1,
        "to_stage": None,
        "reason": "Data migration bug",
        "audience": "cohort",
    },
    "rollout.completed": {**_ROLLOUT, "stage_index": 3},
    "feedback.resolved": {
        "feedback_id": "f-1",
        "rollout_id": "r-1",
        "category": "login",
        "resolution": "We reset the single sign-on token.",
    },
    "training.reminder": {
        **_ROLLOUT,
        "stage_index": 2,
        "stage_name": "Sales",
        "missing_courses": ["crm-101"],
        "reminder": 2,
        "of": 3,
    },
    "training.manager_digest": {
        **_ROLLOUT,
        "stage_index": 2,
        "stage_name": "Sales",
        "reminders": 3,
        "reports": [{"staff_id": "s-1", "name": "Ada", "missing": ["crm-101"]}],
    },
    "issue.reported": {
        **_ROLLOUT,
        **_CASE,
        "case_kind": "issue",
        "feedback_id": "f-1",
        "severity": "critical",
        "category": "login",
    },
    "guardrail.tripped": {
        **_ROLLOUT,
        **_CASE,
        "case_kind": "guardrail",
        "stage_index": 1,
        "guardrail": "blockers",
        "reason": "5 open blockers",
    },
    "override.recorded": {
        **_ROLLOUT,
        **_CASE,
        "case_kind": "override",
        "stage_index": 2,
        "actor": "s-admin",
        "outcome": "fail",
        "completing": False,
    },
    "stage.stalled": {
        **_ROLLOUT,
        **_CASE,
        "case_kind": "stalled",
        "stage_index": 1,
        "stage_name": "Finance",
        "stalled_for_s": 270000.0,
    },
    "digest.daily": {"items": [{"subject": "CRM 2027: stage 2 started", "template": "x"}]},
}
