"""Settings of the rollout service only, from ``ONRAMP_ROLLOUT_*`` environment variables.

Kept apart from ``config.py`` because handlers and routes read them, and ``config.py`` imports
those (it composes the service).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RolloutSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONRAMP_", extra="ignore")

    # Largest rollout.* event value. Kafka's default message.max.bytes and our consumers'
    # ONRAMP_MAX_RECORD_BYTES are 1 MiB; a bigger event would stall the outbox relay.
    rollout_max_event_bytes: int = Field(default=900_000, ge=10_000)
    # How many untrained staff the gate report names (admins only); counts are always whole.
    rollout_report_staff_limit: int = Field(default=200, ge=0, le=100_000)


@lru_cache(maxsize=1)
def get_settings() -> RolloutSettings:
    return RolloutSettings()
