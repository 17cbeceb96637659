"""The rollout service as the process wiring sees it."""

from __future__ import annotations

from pathlib import Path

from services.rollout.agents import SUBSCRIPTIONS
from services.rollout.api import router
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="rollout",
    title="Onramp rollout",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
)
