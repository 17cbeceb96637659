"""The feedback service as the process wiring sees it: its settings and its ServiceSpec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from services.feedback.domain.cases import SlaTargets
from services.feedback.domain.submission import SEVERITIES, Severity
from shared.service import ServiceSpec
from shared.settings import Settings

Minutes = Annotated[int, Field(ge=1)]


class FeedbackSettings(Settings):
    """The shared settings plus the feedback service's own (all documented in docs/feedback.md).

    ``respondent_key_secret`` (shared) keys every pseudonym the service derives.
    """

    feedback_rate_limit: int = Field(default=30, ge=1)
    feedback_rate_window_s: int = Field(default=600, ge=1)
    feedback_min_group_size: int = Field(default=5, ge=1)
    feedback_max_clock_skew_s: int = Field(default=300, ge=0)
    feedback_ack_sla_minutes: dict[Severity, Minutes] = {
        "critical": 15,
        "high": 60,
        "medium": 4 * 60,
        "low": 24 * 60,
    }
    feedback_resolve_sla_minutes: dict[Severity, Minutes] = {
        "critical": 4 * 60,
        "high": 24 * 60,
        "medium": 3 * 24 * 60,
        "low": 10 * 24 * 60,
    }

    @model_validator(mode="after")
    def _every_severity_has_targets(self) -> Self:
        for name in ("feedback_ack_sla_minutes", "feedback_resolve_sla_minutes"):
            missing = set(SEVERITIES) - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} lacks {', '.join(sorted(missing))}")
        return self

    def policy(self) -> Policy:
        return Policy(
            secret=self.respondent_key_secret.get_secret_value().encode(),
            rate_limit=self.feedback_rate_limit,
            rate_window_s=self.feedback_rate_window_s,
            min_group_size=self.feedback_min_group_size,
            max_clock_skew=timedelta(seconds=self.feedback_max_clock_skew_s),
            sla=SlaTargets(
                acknowledge=_minutes(self.feedback_ack_sla_minutes),
                resolve=_minutes(self.feedback_resolve_sla_minutes),
            ),
        )


def _minutes(targets: dict[Severity, int]) -> dict[Severity, timedelta]:
    return {severity: timedelta(minutes=m) for severity, m in targets.items()}


@dataclass(frozen=True, slots=True)
class Policy:
    """What the feedback handlers need from the settings."""

    secret: bytes
    rate_limit: int
    rate_window_s: int
    min_group_size: int
    max_clock_skew: timedelta
    sla: SlaTargets


@lru_cache(maxsize=1)
def policy() -> Policy:
    """Read once per process; routes take it as a dependency (tests override it there)."""
    return FeedbackSettings().policy()


async def current_policy() -> Policy:
    """:func:`policy` as the routes' dependency: FastAPI runs a plain function dependency in a
    worker thread on every request, an ``async`` one inline."""
    return policy()


def service_spec() -> ServiceSpec:
    # Imported here, not at the top: the routes and agents read this module's policy.
    from services.feedback.agents import SUBSCRIPTIONS
    from services.feedback.api import router

    return ServiceSpec(
        name="feedback",
        title="Onramp feedback",
        router=router,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
