"""The rollout service as the process wiring sees it.

Service-specific settings (``ONRAMP_ROLLOUT_*``) live in ``services.rollout.settings``, because
routes and handlers read them and this module imports those.
"""

from __future__ import annotations

from pathlib import Path

from services.rollout.agents import SUBSCRIPTIONS, TIMERS
from services.rollout.api import router
from services.rollout.settings import RolloutSettings, get_settings
from shared.service import ServiceSpec

__all__ = ["SPEC", "RolloutSettings", "get_settings"]

SPEC = ServiceSpec(
    name="rollout",
    title="Onramp rollout",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    timers=TIMERS,
)
