"""The feedback service as the process wiring sees it."""

from __future__ import annotations

from pathlib import Path

from services.feedback.agents import SUBSCRIPTIONS
from services.feedback.api import router
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="feedback",
    title="Onramp feedback",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
)
