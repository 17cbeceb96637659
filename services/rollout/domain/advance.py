"""Whether a stage may be left now: the gate, the approvals and an admin's override."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.rollout.domain import approvals
from services.rollout.domain.approvals import Tally
from services.rollout.domain.gate import GateReport
from services.rollout.domain.plan import ApprovalRule

Action = Literal["advance", "await_approval", "refuse"]


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str
    approvals_required: int = 0
    overridden: bool = False


def decide(report: GateReport, rule: ApprovalRule, votes: Tally, *, override: bool) -> Verdict:
    """DESIGN §3: ``pass`` advances (after N approvals when the rule says ``always``);
    ``inconclusive`` advances only with N approvals; ``pending``, ``error`` and ``fail`` are
    refused unless an admin overrides.

    Approvals settle an inconclusive gate, never a criterion that is pending, in error or
    failing: a soak still running is not waived because the gate as a whole is inconclusive.
    A rejection blocks until its approver changes their vote. An override gets past all of it,
    and says so.
    """
    needed = approvals.required(rule, report.outcome)
    obstacles = _obstacles(report, rule, votes, needed)
    if override:
        reason = "; ".join(obstacles) or "the gate passed"
        return Verdict("advance", reason, needed, overridden=bool(obstacles))
    if votes.rejected or report.blocking or (report.outcome == "inconclusive" and not needed):
        return Verdict("refuse", "; ".join(obstacles), needed)
    if len(votes.approved) < needed:
        return Verdict("await_approval", "; ".join(obstacles), needed)
    return Verdict("advance", _approved_by(votes) or "the gate passed", needed)


def _obstacles(report: GateReport, rule: ApprovalRule, votes: Tally, needed: int) -> list[str]:
    found = [f"{c.name} is {c.outcome}" for c in report.blocking]
    if report.outcome == "inconclusive" and rule.when == "never":
        found.append("the gate is inconclusive and this stage takes no approvals")
    if votes.rejected:
        found.append("rejected by " + ", ".join(v.approver_id for v in votes.rejected))
    if len(votes.approved) < needed:
        found.append(f"{len(votes.approved)} of {needed} approvals")
    return found


def _approved_by(votes: Tally) -> str:
    if not votes.approved:
        return ""
    return "approved by " + ", ".join(v.approver_id for v in votes.approved)
