"""Notification rules: pure functions from facts to notifications, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

URGENT_SEVERITIES = frozenset({"high", "critical"})


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification to put in one person's inbox."""

    recipient_id: str
    template: str
    subject: str
    body: str
    priority: str = "normal"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IssueReported:
    feedback_id: str
    rollout_id: str
    kind: str
    severity: str | None
    category: str | None


def is_urgent(issue: IssueReported) -> bool:
    return issue.kind == "issue" and issue.severity in URGENT_SEVERITIES


def issue_alerts(issue: IssueReported, it_support: Sequence[str]) -> list[Draft]:
    """A high or critical issue goes to every member of IT support."""
    if not is_urgent(issue) or issue.severity is None:
        return []
    subject = f"{issue.severity.capitalize()} issue reported in rollout {issue.rollout_id}"
    body = (
        f"A {issue.severity} issue"
        + (f" ({issue.category})" if issue.category else "")
        + " needs acknowledging."
    )
    data = {"feedback_id": issue.feedback_id, "rollout_id": issue.rollout_id}
    return [
        Draft(staff_id, "issue.reported", subject, body, priority="high", data=data)
        for staff_id in sorted(set(it_support))
    ]
