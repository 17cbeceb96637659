"""The staff inbox page (see docs/dashboard.md)."""

from services.notify.web.routes import add_fragments, pages

__all__ = ["add_fragments", "pages"]
