"""A rollout plan: ordered stages, each with its cohort, gate, approval rule and guardrails.

The plan is validated here, once, so that nothing downstream has to cope with an impossible one.
Stored as JSON and read back through the same models.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Severity = Literal["low", "medium", "high", "critical"]
AdvanceMode = Literal["manual", "auto"]
ApprovalWhen = Literal["never", "inconclusive", "always"]

SEVERITY_RANK: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
MAX_STAGES = 20
Share = Annotated[float, Field(ge=0, le=1)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({v for v in values if v in seen or seen.add(v)})  # type: ignore[func-returns-value]


class CohortRule(_Rule):
    """Who a stage adds: members of the departments (a stable ``percent`` of them, when given)
    and the staff listed by id (always, whatever the percentage)."""

    department_ids: Annotated[list[Id], Field(max_length=500)] = []
    staff_ids: Annotated[list[Id], Field(max_length=1000)] = []
    percent: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.department_ids and not self.staff_ids:
            raise ValueError("a cohort needs departments or staff")
        if self.percent is not None and not self.department_ids:
            raise ValueError("percent applies to departments; this cohort has none")
        if dup := _duplicates(self.department_ids + self.staff_ids):
            raise ValueError(f"listed twice in one cohort: {', '.join(dup)}")
        return self

    @property
    def share(self) -> float:
        return 100.0 if self.percent is None else self.percent


class SatisfactionRule(_Rule):
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.7
    min_responses: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    min_response_rate: Share = 0.3
    confidence: Annotated[float, Field(ge=0.5, le=0.999)] = 0.95


class TrainingRule(_Rule):
    min_completion: Share = 0.9


class BlockersRule(_Rule):
    max_open: Annotated[int, Field(ge=0)] = 0
    min_severity: Severity = "high"


class Gate(_Rule):
    """The gate to leave a stage. A criterion set to null is not evaluated."""

    satisfaction: SatisfactionRule | None = SatisfactionRule()
    training: TrainingRule | None = TrainingRule()
    blockers: BlockersRule | None = BlockersRule()


class ApprovalRule(_Rule):
    required: Annotated[int, Field(ge=0, le=20)] = 1
    when: ApprovalWhen = "inconclusive"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.when != "never" and self.required < 1:
            raise ValueError(f"approvals required '{self.when}' needs required >= 1")
        return self


class Guardrails(_Rule):
    """Pause the running stage when the satisfied share's upper bound falls below
    ``satisfaction_floor``, or when open blockers reach ``blocker_count``."""

    satisfaction_floor: Annotated[float, Field(gt=0, le=1)] | None = None
    blocker_count: Annotated[int, Field(ge=1)] | None = None


class StageRule(_Rule):
    name: Name
    cohort: CohortRule
    required_course_ids: Annotated[list[Id], Field(max_length=50)] = []
    min_soak: Annotated[timedelta, Field(ge=timedelta(0), le=timedelta(days=365))] = timedelta(0)
    stall_after: Annotated[timedelta, Field(gt=timedelta(0), le=timedelta(days=365))] = timedelta(
        days=14
    )
    gate: Gate = Gate()
    advance_mode: AdvanceMode = "manual"
    approval: ApprovalRule = ApprovalRule()
    guardrails: Guardrails = Guardrails()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if dup := _duplicates(self.required_course_ids):
            raise ValueError(f"course listed twice: {', '.join(dup)}")
        floor, satisfaction = self.guardrails.satisfaction_floor, self.gate.satisfaction
        if floor is not None and satisfaction is not None and floor >= satisfaction.threshold:
            raise ValueError(
                "the satisfaction floor must be below the gate's threshold, or a stage that "
                "could pass would pause"
            )
        count, blockers = self.guardrails.blocker_count, self.gate.blockers
        if count is not None and blockers is not None and count <= blockers.max_open:
            raise ValueError(
                "the guardrail's blocker count must be above the gate's max_open, or a stage "
                "that could pass would pause"
            )
        return self

    @property
    def blocker_severity(self) -> Severity:
        """What counts as a blocker, for the gate and the guardrail alike."""
        return self.gate.blockers.min_severity if self.gate.blockers else "high"

    @property
    def confidence(self) -> float:
        return self.gate.satisfaction.confidence if self.gate.satisfaction else 0.95


class StartGate(_Rule):
    """The gate to leave 'not started': readiness of the first cohort."""

    training: TrainingRule | None = TrainingRule()


class Plan(_Rule):
    stages: Annotated[list[StageRule], Field(min_length=1, max_length=MAX_STAGES)]
    start_gate: StartGate = StartGate()

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = overlap_problems(self.stages)
        if dup := _duplicates([stage.name for stage in self.stages]):
            problems.insert(0, f"stage names must differ: {', '.join(dup)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def stage(self, index: int | None) -> StageRule | None:
        if index is None or not 0 <= index < len(self.stages):
            return None
        return self.stages[index]

    def is_last(self, index: int) -> bool:
        return index == len(self.stages) - 1


def overlap_problems(stages: list[StageRule]) -> list[str]:
    """Overlapping cohorts are allowed, because a person belongs to the first stage that
    selects them: 'Finance 10 %' then 'Finance' ramps one department up, and a last stage
    'everyone' may list every department. What is refused is a stage that can never add
    anyone: each of its departments already taken at an equal or higher percentage by an
    earlier stage, and each person it names already named by one."""
    problems: list[str] = []
    taken: dict[str, float] = {}
    named: set[str] = set()
    for stage in stages:
        share = stage.cohort.share
        adds_departments = any(taken.get(d, 0.0) < share for d in stage.cohort.department_ids)
        adds_staff = any(staff_id not in named for staff_id in stage.cohort.staff_ids)
        if not adds_departments and not adds_staff:
            problems.append(f"stage '{stage.name}' can add nobody: earlier stages cover its cohort")
        for department in stage.cohort.department_ids:
            taken[department] = max(taken.get(department, 0.0), share)
        named.update(stage.cohort.staff_ids)
    return problems
