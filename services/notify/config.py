"""The notify service as the process wiring sees it: its one composition root."""

from __future__ import annotations

from pathlib import Path

from services.notify import agents, web
from services.notify.api import router
from services.notify.settings import Deps, NotifySettings, process_deps
from shared.service import ServiceSpec
from shared.web import site

__all__ = ["SPEC", "NotifySettings", "build_spec"]


def build_spec(deps: Deps) -> ServiceSpec:
    return ServiceSpec(
        name="notify",
        title="Onramp notify",
        router=router,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=agents.subscriptions(deps),
        timers=agents.timers(deps),
        pages=site(web.pages),
    )


SPEC = build_spec(process_deps())
