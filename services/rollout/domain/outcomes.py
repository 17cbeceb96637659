"""Gate outcomes and their order: the gate takes the worst outcome of its criteria."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Outcome = Literal["pass", "pending", "inconclusive", "error", "fail"]

# Best to worst, as Argo Rollouts orders the phases of its analysis runs.
ORDER: tuple[Outcome, ...] = get_args(Outcome)
_RANK = {outcome: rank for rank, outcome in enumerate(ORDER)}

# What approvals can settle (inconclusive), and what nothing but an override gets past.
BLOCKING: frozenset[Outcome] = frozenset({"pending", "error", "fail"})


def rank(outcome: Outcome) -> int:
    return _RANK[outcome]


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The worst of ``outcomes``; a gate without criteria passes."""
    return max(outcomes, key=rank, default="pass")
