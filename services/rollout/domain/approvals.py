"""Approvals: N approvers, nobody approves their own request, a rejection blocks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.rollout.domain.outcomes import Outcome
from services.rollout.domain.plan import ApprovalRule

Decision = Literal["approve", "reject"]


@dataclass(frozen=True, slots=True)
class Vote:
    approver_id: str
    decision: Decision
    at: datetime
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Tally:
    """Each approver's latest vote on leaving the current stage. ``set_aside`` holds approvals
    that do not count: the owner's, and the requester's own (segregation of duties)."""

    approved: tuple[Vote, ...] = ()
    rejected: tuple[Vote, ...] = ()
    set_aside: tuple[Vote, ...] = ()


def latest(votes: Iterable[Vote]) -> list[Vote]:
    """An approver may change their mind: only their last vote counts."""
    last: dict[str, Vote] = {}
    for vote in sorted(votes, key=lambda v: v.at):
        last[vote.approver_id] = vote
    return sorted(last.values(), key=lambda v: (v.at, v.approver_id))


def tally(votes: Iterable[Vote], *, owner_id: str, requester: str | None) -> Tally:
    """Count votes for a request made by ``requester`` (None: the system, in auto mode).

    A rejection counts whoever cast it; an approval never counts from the owner or from the
    person who asked for the advance.
    """
    interested = {owner_id, requester}
    approved, rejected, set_aside = [], [], []
    for vote in latest(votes):
        if vote.decision == "reject":
            rejected.append(vote)
        elif vote.approver_id in interested:
            set_aside.append(vote)
        else:
            approved.append(vote)
    return Tally(tuple(approved), tuple(rejected), tuple(set_aside))


def refusal(approver_id: str, *, owner_id: str, requester: str | None) -> str | None:
    """Why ``approver_id`` may not vote on this advance, or None."""
    if approver_id == owner_id:
        return "the rollout's owner cannot approve its own rollout"
    if approver_id == requester:
        return "nobody approves an advance they requested"
    return None


def required(rule: ApprovalRule, outcome: Outcome) -> int:
    """Approvals needed to advance on ``outcome``; 0 when none are needed."""
    if rule.when == "always" or (rule.when == "inconclusive" and outcome == "inconclusive"):
        return rule.required
    return 0
