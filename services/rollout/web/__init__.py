"""The rollout dashboard (see docs/dashboard.md)."""

from services.rollout.web.routes import fragments, pages

__all__ = ["fragments", "pages"]
