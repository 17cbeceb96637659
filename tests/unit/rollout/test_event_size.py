"""rollout.* events stay under the broker's record size: member lists go first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from services.rollout.domain.cohorts import Person
from services.rollout.domain.plan import StageRule
from services.rollout.handlers import publish
from services.rollout.settings import get_settings
from shared.events.models import Evidence, RolloutRolledBack, RolloutStageAdvanced

NOW = datetime(2027, 3, 1, tzinfo=UTC)
RULE = StageRule.model_validate({"name": "all", "cohort": {"department_ids": ["fin"]}})


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ONRAMP_ROLLOUT_MAX_EVENT_BYTES", "20000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def crowd(prefix: str, count: int) -> list[Person]:
    return [Person(f"{prefix}-{n:05}", "fin") for n in range(count)]


def advanced(stage: list[Person], following: list[Person]) -> RolloutStageAdvanced:
    return RolloutStageAdvanced(
        rollout_id="r-1",
        from_stage=0,
        to_stage=1,
        stage=publish.stage(RULE, stage),
        next_stage=publish.stage(RULE, following),
        actor="auto",
        evidence=Evidence(outcome="pass", criteria=[], evaluated_at=NOW),
        at=NOW,
    )


@pytest.mark.usefixtures("limit")
def test_small_events_keep_their_members() -> None:
    data = advanced(crowd("a", 10), crowd("b", 10))
    assert publish.fit(data) == data


@pytest.mark.usefixtures("limit")
def test_the_next_cohort_loses_its_member_list_first() -> None:
    fitted = publish.fit(advanced(crowd("a", 500), crowd("b", 1500)))
    assert fitted.next_stage is not None
    assert fitted.next_stage.cohort.member_ids == []
    assert fitted.next_stage.cohort.staff_count == 1500
    assert len(fitted.stage.cohort.member_ids) == 500


@pytest.mark.usefixtures("limit")
def test_then_the_stage_itself() -> None:
    fitted = publish.fit(advanced(crowd("a", 3000), crowd("b", 10)))
    assert fitted.stage.cohort.member_ids == []
    assert fitted.stage.cohort.staff_count == 3000


@pytest.mark.usefixtures("limit")
def test_a_rolled_back_cohort_too() -> None:
    data = RolloutRolledBack(
        rollout_id="r-1",
        from_stage=1,
        to_stage=0,
        cohort=publish.cohort(crowd("a", 3000)),
        actor="admin",
        reason="printing broken",
        at=NOW,
    )
    fitted = publish.fit(data)
    assert (fitted.cohort.member_ids, fitted.cohort.staff_count) == ([], 3000)
