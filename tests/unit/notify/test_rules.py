"""Which events notify whom."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.domain import rules
from services.notify.domain.notifications import TEMPLATES, Draft
from shared.events import models as m

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ROLLOUT = rules.Rollout("r-1", "CRM 2027", "owner-1")
EVIDENCE = m.Evidence(
    outcome="pass",
    criteria=[m.Criterion(name="soak", outcome="pass", value=90000.0, threshold=86400.0)],
    evaluated_at=AT,
)


def cohort(*members: str) -> m.Cohort:
    return m.Cohort(department_ids=["d"], staff_count=len(members), member_ids=list(members))


def advanced(*, next_stage: m.Stage | None, override: str | None = None) -> m.RolloutStageAdvanced:
    return m.RolloutStageAdvanced(
        rollout_id="r-1",
        from_stage=0,
        to_stage=1,
        stage=m.Stage(name="Finance", cohort=cohort("s-1", "s-2"), required_course_ids=["c-1"]),
        next_stage=next_stage,
        actor="admin-1",
        evidence=EVIDENCE,
        override_reason=override,
        at=AT,
    )


def who(drafts: list[Draft]) -> list[tuple[str, str, str]]:
    return [(d.recipient_id, d.template, d.priority) for d in drafts]


def test_stage_advanced_tells_the_new_cohort_the_next_cohort_and_the_owner() -> None:
    following = m.Stage(name="Sales", cohort=cohort("s-3", "s-4"), required_course_ids=["c-2"])
    drafts = rules.stage_advanced(
        advanced(next_stage=following), ROLLOUT, {"s-1": ["c-1"], "s-4": ["c-2"]}
    )
    assert who(drafts) == [
        ("s-1", "stage.joined", "normal"),
        ("s-2", "stage.joined", "normal"),
        ("s-3", "stage.next_up", "normal"),
        ("s-4", "stage.next_up", "normal"),
        ("owner-1", "stage.advanced", "low"),
    ]
    by_person = {(d.recipient_id, d.template): d.data for d in drafts}
    assert by_person["s-1", "stage.joined"]["missing_courses"] == []
    assert by_person["s-2", "stage.joined"]["missing_courses"] == ["c-1"]
    assert by_person["s-3", "stage.next_up"]["missing_courses"] == ["c-2"]
    assert by_person["s-3", "stage.next_up"]["next_stage_name"] == "Sales"
    owner = by_person["owner-1", "stage.advanced"]
    assert owner["evidence"]["criteria"][0]["name"] == "soak"
    assert owner["cohort_size"] == 2


def test_an_override_raises_the_owners_notice() -> None:
    drafts = rules.stage_advanced(advanced(next_stage=None, override="quarter close"), ROLLOUT, {})
    assert who(drafts)[-1] == ("owner-1", "stage.advanced", "normal")
    assert drafts[-1].data["override_reason"] == "quarter close"


def test_no_owner_known_no_owner_notice() -> None:
    drafts = rules.stage_advanced(advanced(next_stage=None), rules.Rollout("r-1", "r-1"), {})
    assert [d.template for d in drafts] == ["stage.joined", "stage.joined"]


def gate(
    previous: m.Outcome | None, outcome: m.Outcome, approvals: int = 0
) -> m.RolloutGateChanged:
    return m.RolloutGateChanged(
        rollout_id="r-1",
        stage=1,
        previous=previous,
        outcome=outcome,
        approvals_required=approvals,
        evidence=EVIDENCE,
        at=AT,
    )


@pytest.mark.parametrize(
    ("previous", "outcome", "approvals", "expected"),
    [
        ("pending", "pass", 0, [("owner-1", "gate.ready", "normal")]),
        (None, "pass", 2, [("owner-1", "gate.ready", "normal")]),
        ("pass", "pass", 0, []),
        (
            "pending",
            "inconclusive",
            2,
            [("ap-1", "gate.approval_needed", "high"), ("ap-2", "gate.approval_needed", "high")],
        ),
        ("pending", "inconclusive", 0, []),  # advances without approvals: nothing to ask
        ("pass", "fail", 0, [("owner-1", "gate.blocked", "low")]),
        ("inconclusive", "error", 0, [("owner-1", "gate.blocked", "low")]),
        (None, "fail", 0, []),  # a stage's first evaluation failing is expected, not news
        ("fail", "error", 0, []),
        ("pass", "pending", 0, []),
    ],
)
def test_gate_changed(
    previous: m.Outcome | None,
    outcome: m.Outcome,
    approvals: int,
    expected: list[tuple[str, str, str]],
) -> None:
    drafts = rules.gate_changed(
        gate(previous, outcome, approvals), ROLLOUT, ["ap-2", "owner-1", "ap-1"]
    )
    assert who(drafts) == expected


def test_paused_tells_the_cohort_and_the_owner_once_each() -> None:
    event = m.RolloutPaused(
        rollout_id="r-1",
        stage=1,
        actor="auto",
        cause="guardrail",
        guardrail="csat_floor",
        reason="CSAT fell",
        at=AT,
    )
    drafts = rules.paused(event, ROLLOUT, ["s-2", "owner-1", "s-1"])
    assert [(d.recipient_id, d.data["audience"]) for d in drafts] == [
        ("s-1", "cohort"),
        ("s-2", "cohort"),
        ("owner-1", "owner"),
    ]
    assert {d.template for d in drafts} == {"rollout.paused"}


def test_resumed() -> None:
    event = m.RolloutResumed(rollout_id="r-1", stage=1, actor="admin-1", at=AT)
    assert who(rules.resumed(event, ROLLOUT, ["s-1"])) == [
        ("s-1", "rollout.resumed", "normal"),
        ("owner-1", "rollout.resumed", "normal"),
    ]


def test_rolled_back_sends_the_cohort_back_with_high_priority() -> None:
    event = m.RolloutRolledBack(
        rollout_id="r-1",
        from_stage=1,
        to_stage=0,
        cohort=cohort("s-9"),
        actor="admin-1",
        reason="data bug",
        at=AT,
    )
    assert who(rules.rolled_back(event, ROLLOUT)) == [
        ("s-9", "rollout.rolled_back", "high"),
        ("owner-1", "rollout.rolled_back", "high"),
    ]


def test_completed_tells_the_owner() -> None:
    event = m.RolloutCompleted(rollout_id="r-1", stage=3, actor="auto", at=AT)
    assert who(rules.completed(event, ROLLOUT)) == [("owner-1", "rollout.completed", "low")]


@pytest.mark.parametrize(
    ("submitter", "expected"),
    [("s-1", [("s-1", "feedback.resolved", "normal")]), (None, [])],
    ids=["named", "anonymous"],
)
def test_you_said_we_did_never_for_anonymous_feedback(
    submitter: str | None, expected: list[tuple[str, str, str]]
) -> None:
    drafts = rules.feedback_resolved(
        feedback_id="f-1",
        rollout_id="r-1",
        submitter=submitter,
        resolution="Fixed SSO",
        category="login",
    )
    assert who(drafts) == expected
    for draft in drafts:
        assert draft.data["resolution"] == "Fixed SSO"


def test_every_template_a_rule_uses_is_catalogued() -> None:
    following = m.Stage(name="Sales", cohort=cohort("s-3"), required_course_ids=[])
    drafts = rules.stage_advanced(advanced(next_stage=following), ROLLOUT, {})
    drafts += rules.gate_changed(gate("pending", "inconclusive", 1), ROLLOUT, ["ap-1"])
    assert {d.template for d in drafts} <= set(TEMPLATES)
