"""Plan validation: impossible plans are refused with a reason, possible ones read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.rollout.domain.plan import Plan


def stage(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "cohort": {"department_ids": [name]}} | fields


def check(*stages: dict[str, Any]) -> Plan:
    return Plan.model_validate({"stages": list(stages)})


def refused(*stages: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        check(*stages)
    return str(error.value)


def test_defaults_and_iso_durations() -> None:
    plan = check(stage("pilot", min_soak="P2DT3H"), stage("company"))
    pilot = plan.stages[0]
    assert pilot.min_soak == timedelta(days=2, hours=3)
    assert pilot.stall_after == timedelta(days=14)
    assert pilot.advance_mode == "manual"
    assert (pilot.approval.required, pilot.approval.when) == (1, "inconclusive")
    assert pilot.gate.satisfaction is not None
    assert pilot.gate.satisfaction.confidence == 0.95
    assert plan.model_dump(mode="json")["stages"][0]["min_soak"] == "P2DT3H"
    assert Plan.model_validate(plan.model_dump(mode="json")) == plan


def test_a_criterion_set_to_null_is_not_evaluated() -> None:
    plan = check(stage("pilot", gate={"satisfaction": None}))
    assert plan.stages[0].gate.satisfaction is None
    assert plan.stages[0].gate.training is not None


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "at least 1 item"),
        ([stage("a"), stage("a", cohort={"department_ids": ["b"]})], "stage names must differ"),
        ([stage("a", cohort={})], "a cohort needs departments or staff"),
        ([stage("a", cohort={"staff_ids": ["s1"], "percent": 10})], "percent applies to"),
        ([stage("a", cohort={"department_ids": ["x", "x"]})], "listed twice in one cohort"),
        ([stage("a", cohort={"department_ids": ["x"], "percent": 0})], "greater than 0"),
        ([stage("a", required_course_ids=["c", "c"])], "course listed twice"),
        ([stage("a", min_soak="-PT1S")], "greater than or equal"),
        ([stage("a", approval={"required": 0, "when": "always"})], "needs required >= 1"),
        ([stage("a", gate={"satisfaction": {"threshold": 0}})], "greater than 0"),
        ([stage("a", gate={"satisfaction": {"confidence": 1}})], "less than or equal"),
        (
            [stage("a", guardrails={"satisfaction_floor": 0.8})],
            "floor must be below the gate's threshold",
        ),
        (
            [stage("a", gate={"blockers": {"max_open": 2}}, guardrails={"blocker_count": 2})],
            "blocker count must be above the gate's max_open",
        ),
        ([stage("a", advance_mode="sometimes")], "'manual' or 'auto'"),
        ([stage("a", surprise=True)], "Extra inputs are not permitted"),
    ],
)
def test_impossible_plans_are_refused(stages: list[dict[str, Any]], message: str) -> None:
    assert message in refused(*stages)


def test_a_percentage_ramp_of_one_department_is_a_plan() -> None:
    ramp = check(
        stage("pilot", cohort={"department_ids": ["fin"], "percent": 10}),
        stage("half", cohort={"department_ids": ["fin"], "percent": 50}),
        stage("all", cohort={"department_ids": ["fin", "law"]}),
    )
    assert [s.cohort.share for s in ramp.stages] == [10, 50, 100]


def test_a_stage_that_can_add_nobody_is_refused() -> None:
    message = refused(
        stage("pilot", cohort={"department_ids": ["fin"], "percent": 50}),
        stage("again", cohort={"department_ids": ["fin"], "percent": 50}),
    )
    assert "stage 'again' can add nobody: earlier stages cover its cohort" in message
    assert "'fin' can add nobody" in refused(
        stage("all", cohort={"department_ids": ["fin", "law"]}), stage("fin")
    )
    assert "'more' can add nobody" in refused(
        stage("pilot", cohort={"staff_ids": ["s-1", "s-2"]}),
        stage("more", cohort={"staff_ids": ["s-2"]}),
    )


def test_a_last_stage_may_list_everyone_again() -> None:
    plan = check(
        stage("pilot", cohort={"staff_ids": ["s-1"]}),
        stage("fin"),
        stage("company", cohort={"department_ids": ["fin", "law"], "staff_ids": ["s-1"]}),
    )
    assert len(plan.stages) == 3


def test_the_guardrails_may_be_exactly_as_strict_as_the_gate_allows() -> None:
    plan = check(
        stage(
            "a",
            gate={"satisfaction": {"threshold": 0.7}, "blockers": {"max_open": 1}},
            guardrails={"satisfaction_floor": 0.69, "blocker_count": 2},
        )
    )
    assert plan.stages[0].guardrails.blocker_count == 2
