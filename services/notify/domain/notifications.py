"""What a rule produces: a draft notification for one recipient, before rendering and delivery."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# low: may wait for the daily digest; urgent: escalations, which bypass quiet hours and digests.
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

# Every notification kind (= template name) the service sends, and who receives it.
TEMPLATES: Mapping[str, str] = {
    "stage.joined": "the cohort of a stage that just started",
    "stage.next_up": "the cohort of the stage after it: get trained",
    "stage.advanced": "the rollout owner, with the evidence",
    "gate.ready": "the rollout owner: the gate passes",
    "gate.approval_needed": "approvers: the gate is inconclusive and needs approvals",
    "gate.blocked": "the rollout owner: the gate turned to fail or error",
    "rollout.paused": "the current cohort and the owner",
    "rollout.resumed": "the current cohort and the owner",
    "rollout.rolled_back": "the cohort sent back to the old system, and the owner",
    "rollout.completed": "the rollout owner",
    "feedback.resolved": "the submitter of resolved feedback (never anonymous feedback)",
    "training.reminder": "next-cohort staff who lack a required course",
    "training.manager_digest": "managers of staff still untrained after the last reminder",
    "issue.reported": "escalation targets of an urgent issue",
    "guardrail.tripped": "escalation targets of a guardrail pause",
    "override.recorded": "escalation targets of an overridden gate",
    "stage.stalled": "escalation targets of a stalled stage",
}
DIGEST_TEMPLATE = "digest.daily"


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification to put in one person's inbox (and send on their channels)."""

    recipient_id: str
    template: str
    priority: Priority = "normal"
    data: Mapping[str, Any] = field(default_factory=dict)


def for_each(
    recipients: Iterable[str],
    template: str,
    data: Mapping[str, Any],
    priority: Priority = "normal",
    *,
    exclude: Iterable[str] = (),
) -> list[Draft]:
    """One draft per distinct recipient, in a stable order."""
    skip = set(exclude)
    return [
        Draft(recipient, template, priority, data)
        for recipient in sorted(set(recipients))
        if recipient not in skip
    ]
