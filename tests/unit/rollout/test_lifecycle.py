"""Which command each state allows, optimistic concurrency, and when a stage is stalled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from services.rollout.domain.lifecycle import Command, Status, refusal, stale, stalled_at
from services.rollout.domain.plan import StageRule

ALLOWED = {
    ("start", "planned"),
    ("advance", "running"),
    ("approve", "running"),
    ("approve", "paused"),
    ("pause", "running"),
    ("resume", "paused"),
    ("rollback", "running"),
    ("rollback", "paused"),
}


@pytest.mark.parametrize("command", get_args(Command))
@pytest.mark.parametrize("status", get_args(Status))
def test_commands_by_state(command: Command, status: Status) -> None:
    assert (refusal(command, status) is None) == ((command, status) in ALLOWED)


def test_refusals_say_what_to_do() -> None:
    assert refusal("advance", "paused") == "cannot advance: the rollout is paused; resume it first"
    assert refusal("advance", "planned") == (
        "cannot advance: the rollout has not started; start it first"
    )
    assert refusal("pause", "completed") == "cannot pause: the rollout is completed"


def test_a_stale_expectation_is_refused() -> None:
    assert stale(1, 1) is None
    assert stale(0, 1) == "expected stage 0, but the rollout is at stage 1"
    assert stale(0, None) == "expected stage 0, but the rollout is not started"


def test_a_stage_stalls_after_its_soak_and_grace() -> None:
    rule = StageRule.model_validate(
        {"name": "a", "cohort": {"department_ids": ["a"]}, "min_soak": "P2D", "stall_after": "P5D"}
    )
    start = datetime(2027, 3, 1, tzinfo=UTC)
    assert stalled_at(rule, start) == start + timedelta(days=7)
