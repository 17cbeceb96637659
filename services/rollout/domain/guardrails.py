"""Guardrails: what pauses a running stage by itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from services.rollout.domain.gate import GateReport
from services.rollout.domain.plan import Guardrails

GuardrailName = Literal["satisfaction_floor", "blocker_count"]
Acknowledged = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Breach:
    guardrail: GuardrailName
    value: float
    limit: float
    reason: str


def breaches(rules: Guardrails, report: GateReport) -> list[Breach]:
    found: list[Breach] = []
    stats = report.satisfaction
    floor = rules.satisfaction_floor
    if floor is not None and stats is not None and stats.upper < floor:
        found.append(
            Breach(
                "satisfaction_floor",
                stats.upper,
                floor,
                f"at most {stats.upper:.0%} of {stats.responses} respondents are satisfied, "
                f"below the {floor:.0%} floor",
            )
        )
    count = rules.blocker_count
    if count is not None and len(report.blockers) >= count:
        found.append(
            Breach(
                "blocker_count",
                float(len(report.blockers)),
                float(count),
                f"{len(report.blockers)} open blockers, the guardrail pauses at {count}",
            )
        )
    return found


def tripped(found: Sequence[Breach], acknowledged: Acknowledged) -> Breach | None:
    """The breach that pauses the stage, if any.

    A guardrail pauses when it is breached. Once an admin resumes, the breaches of that moment
    count as acknowledged: the same guardrail pauses again only when it gets worse (more open
    blockers, a lower upper bound), or after it cleared and is breached anew. Otherwise a
    resume would be undone by the very next event.
    """
    for breach in found:
        seen = acknowledged.get(breach.guardrail)
        if seen is None or _worse(breach, seen):
            return breach
    return None


def _worse(breach: Breach, seen: float) -> bool:
    if breach.guardrail == "satisfaction_floor":
        return breach.value < seen - 1e-9
    return breach.value > seen


def acknowledge(found: Sequence[Breach]) -> dict[str, float]:
    """What a resume acknowledges: each current breach at its current value."""
    return {breach.guardrail: breach.value for breach in found}


def still_acknowledged(found: Sequence[Breach], acknowledged: Acknowledged) -> dict[str, float]:
    """A guardrail that cleared forgets its acknowledgement."""
    current = {breach.guardrail for breach in found}
    return {name: value for name, value in acknowledged.items() if name in current}
