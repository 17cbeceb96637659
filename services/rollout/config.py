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
from shared.web import site

__all__ = ["SPEC", "RolloutSettings", "get_settings"]

# The API and the dashboard's fragments, both under /v1; the dashboard's pages at the root.
router = APIRouter()
router.include_router(api.router)
router.include_router(web.fragments)

SPEC = ServiceSpec(
    name="rollout",
    title="Onramp rollout",
    router=router,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    timers=TIMERS,
    pages=site(web.pages),
)
