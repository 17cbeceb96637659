"""The training reminder ladder: when reminders go out, to whom, and the managers' digest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain import reminders
from services.notify.domain.notifications import Draft


def d(days: float) -> timedelta:
    return timedelta(days=days)


@pytest.mark.parametrize(
    ("offsets", "max_count", "steps"),
    [
        ([d(1), d(3), d(7)], 3, [d(1), d(3), d(7), d(11)]),  # then the digest, one gap later
        ([d(1), d(3), d(7)], 2, [d(1), d(3), d(5)]),
        ([d(1), d(3)], 4, [d(1), d(3), d(5), d(7), d(9)]),  # the last gap repeats
        ([d(2)], 3, [d(2), d(4), d(6), d(8)]),
        ([d(3), d(1)], 2, [d(1), d(3), d(5)]),  # offsets are sorted
        ([d(1), d(1)], 2, [d(1), d(1), d(1) + timedelta(hours=1)]),  # never all at once
        ([], 3, []),
        ([d(1)], 0, []),
    ],
)
def test_step_offsets(offsets: list[timedelta], max_count: int, steps: list[timedelta]) -> None:
    assert reminders.step_offsets(offsets, max_count) == steps


@pytest.mark.parametrize(("step", "digest"), [(0, False), (2, False), (3, True), (4, True)])
def test_the_step_after_the_last_reminder_is_the_digest(step: int, digest: bool) -> None:
    assert reminders.is_digest_step(step, 3) is digest


def test_missing_courses() -> None:
    done = {"s-1": {"crm-101", "crm-201"}, "s-2": {"crm-101"}, "s-4": {"other"}}
    gaps = reminders.missing_courses(
        ["s-3", "s-1", "s-2", "s-2", "s-4"], ["crm-101", "crm-201"], done
    )
    assert gaps == {
        "s-2": ["crm-201"],
        "s-3": ["crm-101", "crm-201"],
        "s-4": ["crm-101", "crm-201"],
    }


def test_nobody_misses_anything_without_required_courses() -> None:
    assert reminders.missing_courses(["s-1"], [], {}) == {}


def test_reminders_go_to_the_untrained_with_what_they_lack() -> None:
    context = {"rollout_name": "CRM"}
    drafts = reminders.reminders({"s-2": ["b"], "s-1": ["a", "b"]}, context, step=1, max_count=3)
    assert drafts == [
        Draft(
            "s-1",
            "training.reminder",
            "normal",
            {"rollout_name": "CRM", "missing_courses": ["a", "b"], "reminder": 2, "of": 3},
        ),
        Draft(
            "s-2",
            "training.reminder",
            "normal",
            {"rollout_name": "CRM", "missing_courses": ["b"], "reminder": 2, "of": 3},
        ),
    ]


def test_one_digest_per_manager_listing_their_untrained_reports() -> None:
    gaps = {"s-1": ["a"], "s-2": ["a", "b"], "s-3": ["b"], "s-4": ["a"], "m-1": ["a"]}
    managers = {"s-1": "m-1", "s-2": "m-1", "s-3": "m-2", "s-4": None, "m-1": "m-1"}
    names = {"s-1": "Ada", "s-2": "Grace"}
    drafts = reminders.manager_digests(gaps, managers, names, {"rollout_name": "CRM"})
    assert [(draft.recipient_id, draft.template) for draft in drafts] == [
        ("m-1", "training.manager_digest"),
        ("m-2", "training.manager_digest"),
    ]
    assert drafts[0].data["reports"] == [
        {"staff_id": "s-1", "name": "Ada", "missing": ["a"]},
        {"staff_id": "s-2", "name": "Grace", "missing": ["a", "b"]},
    ]
    assert drafts[1].data["reports"] == [{"staff_id": "s-3", "name": "s-3", "missing": ["b"]}]
