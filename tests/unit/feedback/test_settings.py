"""The feedback service's own settings, read from ONRAMP_* variables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.feedback.config import FeedbackSettings


def test_defaults_make_a_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONRAMP_RESPONDENT_KEY_SECRET", "s3cret")
    policy = FeedbackSettings().policy()
    assert policy.secret == b"s3cret"
    assert (policy.rate_limit, policy.rate_window_s, policy.min_group_size) == (30, 600, 5)
    assert policy.sla.acknowledge["critical"] == timedelta(minutes=15)
    assert policy.sla.resolve["low"] == timedelta(days=10)


def test_sla_targets_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    targets = '{"critical": 5, "high": 30, "medium": 60, "low": 120}'
    monkeypatch.setenv("ONRAMP_FEEDBACK_ACK_SLA_MINUTES", targets)
    assert FeedbackSettings().policy().sla.acknowledge["high"] == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ONRAMP_FEEDBACK_ACK_SLA_MINUTES", '{"critical": 5}'),
        (
            "ONRAMP_FEEDBACK_RESOLVE_SLA_MINUTES",
            '{"critical": 0, "high": 1, "medium": 1, "low": 1}',
        ),
        ("ONRAMP_FEEDBACK_ACK_SLA_MINUTES", '{"urgent": 5}'),
        ("ONRAMP_FEEDBACK_RATE_LIMIT", "0"),
        ("ONRAMP_FEEDBACK_MIN_GROUP_SIZE", "0"),
    ],
)
def test_bad_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        FeedbackSettings()
