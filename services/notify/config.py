"""The notify service as the process wiring sees it."""

from __future__ import annotations

from pathlib import Path

from services.notify.agents import SUBSCRIPTIONS
from services.notify.api import router
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="notify",
    title="Onramp notify",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
)
