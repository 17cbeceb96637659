"""Notify HTTP routes: parse, call one handler, format.

Everyone manages their own inbox and preferences. Escalation policies are read by admins and IT
support and changed by admins. Cases are listed and closed by admins, approvers and IT support;
they and anyone a case paged may read and acknowledge it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from services.notify import web
from services.notify.domain.escalation import POLICY_NAMES
from services.notify.handlers import commands
from services.notify.repository import cases as case_repo
from services.notify.repository import inbox
from services.notify.schemas import (
    CaseDetail,
    CaseOut,
    CasePage,
    CloseIn,
    MarkedRead,
    NotificationOut,
    NotificationPage,
    PolicyIn,
    PolicyOut,
    PreferencesDoc,
    PreferencesOut,
)
from services.notify.settings import Deps, process_deps
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import Tx
from shared.idempotency import IdempotencyKey, idempotent

router = APIRouter()
web.add_fragments(router)  # the inbox page's fragment; the page itself is in config.SPEC.pages

NotifyDeps = Annotated[Deps, Depends(process_deps)]
PolicyReader = Annotated[Principal, Depends(require_roles("admin", "it_support"))]
PolicyWriter = Annotated[Principal, Depends(require_roles("admin"))]
CaseWorker = Annotated[Principal, Depends(require_roles(*commands.CASE_ROLES))]
Limit = Annotated[int, Query(ge=1, le=200)]


def _invalid(exc: commands.Invalid) -> HTTPException:
    errors = [{"msg": problem} for problem in exc.problems]
    return HTTPException(422, {"detail": "the request is not valid", "errors": errors})


def _seq(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise HTTPException(422, "not a cursor this API gave out")
    return int(cursor)


# --- inbox --------------------------------------------------------------------------------


@router.get("/me/notifications", tags=["inbox"])
async def my_notifications(
    principal: CurrentPrincipal,
    conn: Tx,
    unread: bool = False,
    limit: Limit = 50,
    cursor: str | None = None,
) -> NotificationPage:
    """Newest first; ``unread=true`` for unread only; follow ``next_cursor`` for older ones."""
    rows = await inbox.page(
        conn, principal.sub, unread_only=unread, limit=limit, before_seq=_seq(cursor)
    )
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    items = [NotificationOut.model_validate(r) for r in rows]
    total_unread = await inbox.unread_count(conn, principal.sub)
    return NotificationPage(items=items, next_cursor=next_cursor, unread=total_unread)


@router.post("/me/notifications/{notification_id}/read", status_code=204, tags=["inbox"])
async def mark_read(notification_id: UUID, principal: CurrentPrincipal, conn: Tx) -> Response:
    if not await inbox.mark_read(conn, principal.sub, notification_id):
        raise HTTPException(404, "no such notification in your inbox")
    return Response(status_code=204)


@router.post("/me/notifications/read-all", tags=["inbox"])
async def mark_all_read(principal: CurrentPrincipal, conn: Tx) -> MarkedRead:
    return MarkedRead(marked=await inbox.mark_all_read(conn, principal.sub))


# --- preferences --------------------------------------------------------------------------


@router.get("/me/preferences", tags=["preferences"])
async def my_preferences(principal: CurrentPrincipal, conn: Tx) -> PreferencesOut:
    return PreferencesOut.model_validate(await commands.preferences(conn, principal.sub))


@router.put("/me/preferences", tags=["preferences"], response_model=PreferencesOut)
async def set_my_preferences(
    body: PreferencesDoc,
    principal: CurrentPrincipal,
    conn: Tx,
    deps: NotifyDeps,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> dict[str, Any]:
        try:
            return await commands.set_preferences(conn, deps, principal.sub, body)
        except commands.Invalid as exc:
            raise _invalid(exc) from exc

    scope = f"{principal.sub}:PUT /v1/me/preferences"
    return await idempotent(conn, key, scope=scope, request=body, status=200, run=run)


# --- escalation policies ------------------------------------------------------------------


@router.get("/escalation-policies", tags=["escalations"])
async def list_policies(principal: PolicyReader, conn: Tx) -> list[PolicyOut]:
    return [PolicyOut.model_validate(p) for p in await commands.policies(conn)]


@router.get("/escalation-policies/{name}", tags=["escalations"])
async def get_policy(name: str, principal: PolicyReader, conn: Tx) -> PolicyOut:
    if name not in POLICY_NAMES:
        raise HTTPException(404, f"no policy named {name!r}; known: {', '.join(POLICY_NAMES)}")
    (found,) = await commands.policies(conn, (name,))
    return PolicyOut.model_validate(found)


@router.put("/escalation-policies/{name}", tags=["escalations"], response_model=PolicyOut)
async def put_policy(
    name: str,
    body: PolicyIn,
    principal: PolicyWriter,
    conn: Tx,
    deps: NotifyDeps,
    key: IdempotencyKey = None,
) -> Response:
    """Replace a policy. Cases already open keep the policy they opened with."""

    async def run() -> dict[str, Any]:
        try:
            return await commands.set_policy(conn, deps, name, body, principal.sub)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        except commands.Invalid as exc:
            raise _invalid(exc) from exc

    scope = f"{principal.sub}:PUT /v1/escalation-policies/{name}"
    return await idempotent(conn, key, scope=scope, request=body, status=200, run=run)


# --- escalation cases ---------------------------------------------------------------------


def _case_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        opened, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(opened), UUID(case_id)
    except (ValueError, binascii.Error) as exc:
        raise HTTPException(422, "not a cursor this API gave out") from exc


@router.get("/escalations", tags=["escalations"])
async def list_cases(
    principal: CaseWorker,
    conn: Tx,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|closed)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(issue|guardrail|override|stalled)$")] = None,
    rollout_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> CasePage:
    """Newest first; filter by status, kind or rollout."""
    rows = await case_repo.list_cases(
        conn,
        status=status,
        kind=kind,
        rollout_id=rollout_id,
        limit=limit,
        before=_case_cursor(cursor),
    )
    next_cursor = None
    if len(rows) == limit:
        last = f"{rows[-1]['opened_at'].isoformat()}|{rows[-1]['case_id']}"
        next_cursor = base64.urlsafe_b64encode(last.encode()).decode()
    return CasePage(items=[CaseOut.model_validate(r) for r in rows], next_cursor=next_cursor)


async def _case_command(action: Awaitable[dict[str, Any] | None]) -> dict[str, Any]:
    try:
        found = await action
    except commands.NotAllowed as exc:
        raise HTTPException(403, "only admins, approvers, IT support and people it paged") from exc
    if found is None:
        raise HTTPException(404, "no such escalation case")
    return found


@router.get("/escalations/{case_id}", tags=["escalations"])
async def get_case(case_id: UUID, principal: CurrentPrincipal, conn: Tx) -> CaseDetail:
    found = await _case_command(commands.case_detail(conn, case_id, principal))
    return CaseDetail.model_validate(found)


@router.post("/escalations/{case_id}/acknowledge", tags=["escalations"], response_model=CaseDetail)
async def acknowledge_case(
    case_id: UUID,
    principal: CurrentPrincipal,
    conn: Tx,
    deps: NotifyDeps,
    key: IdempotencyKey = None,
) -> Response:
    """Stops the levels that page only unacknowledged cases; acknowledging twice is harmless."""

    async def run() -> CaseDetail:
        found = await _case_command(commands.acknowledge(conn, deps, case_id, principal))
        return CaseDetail.model_validate(found)

    scope = f"{principal.sub}:POST /v1/escalations/{case_id}/acknowledge"
    return await idempotent(conn, key, scope=scope, request=None, status=200, run=run)


@router.post("/escalations/{case_id}/close", tags=["escalations"], response_model=CaseDetail)
async def close_case(
    case_id: UUID,
    body: CloseIn,
    principal: CaseWorker,
    conn: Tx,
    deps: NotifyDeps,
    key: IdempotencyKey = None,
) -> Response:
    """Close a case for good (its levels stop); closing twice is harmless."""

    async def run() -> CaseDetail:
        action = commands.close(conn, deps, case_id, principal, body.reason)
        return CaseDetail.model_validate(await _case_command(action))

    scope = f"{principal.sub}:POST /v1/escalations/{case_id}/close"
    return await idempotent(conn, key, scope=scope, request=body, status=200, run=run)
