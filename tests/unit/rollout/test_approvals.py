"""Approval rules: N approvers, no self-approval, a rejection blocks, the latest vote counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.rollout.domain.approvals import Vote, latest, refusal, required, tally
from services.rollout.domain.outcomes import ORDER, Outcome
from services.rollout.domain.plan import ApprovalRule, ApprovalWhen

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def vote(who: str, decision: str = "approve", minutes: int = 0) -> Vote:
    return Vote(who, decision, T0 + timedelta(minutes=minutes), "")  # type: ignore[arg-type]


def test_only_the_latest_vote_of_each_approver_counts() -> None:
    votes = [vote("a", "reject", 0), vote("b", minutes=1), vote("a", "approve", 2)]
    assert [(v.approver_id, v.decision) for v in latest(votes)] == [
        ("b", "approve"),
        ("a", "approve"),
    ]


def test_the_owner_and_the_requester_do_not_approve_their_own_advance() -> None:
    counted = tally(
        [vote("owner"), vote("admin-1"), vote("c"), vote("d", "reject")],
        owner_id="owner",
        requester="admin-1",
    )
    assert [v.approver_id for v in counted.approved] == ["c"]
    assert [v.approver_id for v in counted.set_aside] == ["admin-1", "owner"]
    assert [v.approver_id for v in counted.rejected] == ["d"]


def test_in_auto_mode_only_the_owner_is_set_aside() -> None:
    counted = tally([vote("owner"), vote("b")], owner_id="owner", requester=None)
    assert [v.approver_id for v in counted.approved] == ["b"]


@pytest.mark.parametrize(
    ("approver", "reason"),
    [
        ("owner", "the rollout's owner cannot approve its own rollout"),
        ("requester", "nobody approves an advance they requested"),
        ("someone", None),
    ],
)
def test_who_may_vote(approver: str, reason: str | None) -> None:
    assert refusal(approver, owner_id="owner", requester="requester") == reason


@pytest.mark.parametrize("when", ["never", "inconclusive", "always"])
@pytest.mark.parametrize("outcome", ORDER)
def test_approvals_required(when: ApprovalWhen, outcome: Outcome) -> None:
    rule = ApprovalRule(required=0 if when == "never" else 3, when=when)
    expected = {
        "never": 0,
        "inconclusive": 3 if outcome == "inconclusive" else 0,
        "always": 3,
    }[when]
    assert required(rule, outcome) == expected
