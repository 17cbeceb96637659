"""The rollout service as the process wiring sees it.

Service-specific settings (``ONRAMP_ROLLOUT_*``) live in ``services.rollout.settings``, because
routes and handlers read them and this module imports those.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from services.rollout import api, web
from services.rollout.agents import SUBSCRIPTIONS, TIMERS
from services.rollout.settings import RolloutSettings, get_settings
from shared.service import ServiceSpec
from shared.web import pages_outside_v1

__all__ = ["SPEC", "RolloutSettings", "get_settings"]

# The API, plus the dashboard's fragments under /v1 and its pages at the root.
router = APIRouter(lifespan=pages_outside_v1(web.pages))
router.include_router(api.router)
router.include_router(web.fragments)

SPEC = ServiceSpec(
    name="rollout",
    title="Onramp rollout",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    timers=TIMERS,
)
