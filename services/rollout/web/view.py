"""What the dashboard draws, computed from plain values: the stage strip and the satisfaction
chart's geometry. No I/O; the routes read, these shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from services.rollout.domain.plan import Plan
from services.rollout.repository.dashboard import Rated, StageEntry

StepState = Literal["done", "current", "next", "later"]
PALETTE = ("#1f5fbf", "#d9822b", "#2e9e5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b")


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    name: str
    state: StepState
    departments: list[str]
    staff_count: int
    percent: float | None
    auto: bool


def steps(plan: Plan, stage: int | None, completed: bool, names: Mapping[str, str]) -> list[Step]:
    """Each stage of the plan as done, current, next or later."""
    found = []
    for index, rule in enumerate(plan.stages):
        state: StepState = "later"
        if completed or (stage is not None and index < stage):
            state = "done"
        elif index == stage:
            state = "current"
        elif index == (0 if stage is None else stage + 1):
            state = "next"
        found.append(
            Step(
                index=index,
                name=rule.name,
                state=state,
                departments=[names.get(d, d) for d in rule.cohort.department_ids],
                staff_count=len(rule.cohort.staff_ids),
                percent=rule.cohort.percent,
                auto=rule.advance_mode == "auto",
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    department: str
    share: float
    responses: int


@dataclass(frozen=True, slots=True)
class Group:
    label: str
    x: float
    width: float
    bars: list[Bar]


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    top: int
    plot_height: int
    left: int
    groups: list[Group] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    threshold: float | None = None

    def y_of(self, share: float) -> float:
        return self.top + self.plot_height * (1 - share)


@dataclass(frozen=True, slots=True)
class _Visit:
    stage: int
    start: datetime
    end: datetime | None


def _visits(entries: Sequence[StageEntry]) -> list[_Visit]:
    visits = []
    for entry, following in zip(entries, [*entries[1:], None], strict=True):
        if entry.stage is not None:
            visits.append(
                _Visit(entry.stage, entry.at, None if following is None else following.at)
            )
    return visits


def satisfaction_chart(
    entries: Sequence[StageEntry],
    ratings: Sequence[Rated],
    stage_names: Sequence[str],
    threshold: float | None,
    *,
    no_department: str,
) -> Chart | None:
    """Satisfied share per stage visit (in time order) and department, as grouped bars.

    An answer counts in the visit during which it was submitted. The projection keeps only each
    respondent's latest answer, so an earlier stage loses the answers its people later replaced.
    """
    visits = _visits(entries)
    tallies: list[dict[str, list[int]]] = []
    for visit in visits:
        tally: dict[str, list[int]] = {}
        for rated in ratings:
            if rated.submitted_at >= visit.start and (
                visit.end is None or rated.submitted_at < visit.end
            ):
                line = tally.setdefault(rated.department or no_department, [0, 0])
                line[0] += rated.satisfied
                line[1] += 1
        tallies.append(tally)
    departments = sorted({d for tally in tallies for d in tally})
    if not departments:
        return None
    colours = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(departments)}
    left, top, plot_height, group_width = 44, 12, 150, 170
    chart = Chart(
        width=left + group_width * len(visits) + 10,
        height=top + plot_height + 40,
        top=top,
        plot_height=plot_height,
        left=left,
        legend=[(d, colours[d]) for d in departments],
        threshold=threshold,
    )
    for position, (visit, tally) in enumerate(zip(visits, tallies, strict=True)):
        x0 = left + position * group_width
        shown = [d for d in departments if d in tally]
        bar_width = min(36.0, (group_width - 30) / max(len(shown), 1))
        bars = []
        for slot, department in enumerate(shown):
            satisfied, responses = tally[department]
            share = satisfied / responses
            y = chart.y_of(share)
            bars.append(
                Bar(
                    x=x0 + 15 + slot * bar_width,
                    y=y,
                    width=bar_width - 4,
                    height=top + plot_height - y,
                    colour=colours[department],
                    department=department,
                    share=share,
                    responses=responses,
                )
            )
        name = stage_names[visit.stage] if visit.stage < len(stage_names) else str(visit.stage)
        chart.groups.append(Group(f"{visit.stage + 1}. {name}", x0, group_width, bars))
    return chart
