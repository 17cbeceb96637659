"""The inbox page: HTML outside ``/v1`` (no data), and its fragment under ``/v1/me/inbox``,
which shows the caller's own notifications only. Marking read uses the inbox API itself."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.notify.repository import inbox
from shared.auth import CurrentPrincipal
from shared.deps import Tx
from shared.web import Pages

HERE = Path(__file__).parent
PAGES = Pages([HERE / "templates"], [HERE / "i18n"])
SHOWN = 50

pages = APIRouter(include_in_schema=False)


@pages.get("/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request) -> HTMLResponse:
    return PAGES.render(request, "inbox_page.html.j2")


async def my_inbox(request: Request, principal: CurrentPrincipal, conn: Tx) -> HTMLResponse:
    rows = await inbox.page(conn, principal.sub, unread_only=False, limit=SHOWN, before_seq=None)
    unread = await inbox.unread_count(conn, principal.sub)
    return PAGES.render(request, "inbox.html.j2", items=rows, unread=unread, shown=SHOWN)


def add_fragments(router: APIRouter) -> None:
    """Adds the fragment routes to the service's ``/v1`` router itself (not as an included
    router), so that route listings such as the authorization matrix see them."""
    router.add_api_route(
        "/me/inbox", my_inbox, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
    )
