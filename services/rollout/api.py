"""Rollout HTTP routes: parse, call one handler, format.

Reads are for admins and approvers; plans, starts, advances, pauses, resumes and rollbacks for
admins; votes for approvers. Every command takes an ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from services.rollout.domain.lifecycle import Rollout, Status
from services.rollout.handlers import commands, controls, reading
from services.rollout.handlers.commands import NewPlan
from services.rollout.handlers.errors import CommandError, Conflict, Forbidden, NotFound, Refused
from services.rollout.handlers.views import CommandResult, GateView, Result
from services.rollout.repository import rollouts, trail
from services.rollout.schemas import (
    AdvanceIn,
    ApprovalIn,
    CommandOut,
    GateOut,
    PauseIn,
    ResumeIn,
    RollbackIn,
    RolloutIn,
    RolloutList,
    RolloutOut,
    StartIn,
    Timeline,
    TimelineEntry,
)
from services.rollout.settings import RolloutSettings, get_settings
from shared.auth import Principal, require_roles
from shared.deps import Tx
from shared.idempotency import IdempotencyKey, idempotent

router = APIRouter(tags=["rollouts"])

Admin = Annotated[Principal, Depends(require_roles("admin"))]
Approver = Annotated[Principal, Depends(require_roles("approver"))]
Reader = Annotated[Principal, Depends(require_roles("admin", "approver"))]
Settings = Annotated[RolloutSettings, Depends(get_settings)]
RolloutPath = Annotated[str, Path(min_length=1, max_length=200)]


def _now() -> datetime:
    return datetime.now(UTC)


def _gate(view: GateView, principal: Principal, settings: RolloutSettings) -> GateOut:
    """Named staff who lack a course are for admins' eyes only."""
    return GateOut.of(
        view,
        show_staff=principal.has_any("admin"),
        staff_limit=settings.rollout_report_staff_limit,
    )


def _problem(error: CommandError, principal: Principal, settings: RolloutSettings) -> HTTPException:
    if isinstance(error, NotFound):
        return HTTPException(404, error.message)
    if isinstance(error, Forbidden):
        return HTTPException(403, error.message)
    if isinstance(error, Refused):
        gate = _gate(error.view, principal, settings).model_dump(mode="json")
        return HTTPException(409, {"detail": error.message, "gate": gate})
    assert isinstance(error, Conflict)
    extra = {"rollout_status": error.status, "current_stage": error.current_stage}
    return HTTPException(409, {"detail": error.message, **extra})


async def _command(
    conn: Tx,
    key: str | None,
    principal: Principal,
    settings: RolloutSettings,
    *,
    route: str,
    body: BaseModel | None,
    status: int = 200,
    run: Callable[[], Awaitable[BaseModel]],
) -> Response:
    try:
        return await idempotent(
            conn, key, scope=f"{principal.sub}:{route}", request=body, status=status, run=run
        )
    except CommandError as error:
        raise _problem(error, principal, settings) from None


def _done(outcome: CommandResult, principal: Principal, settings: RolloutSettings) -> CommandOut:
    gate = None if outcome.view is None else _gate(outcome.view, principal, settings)
    return CommandOut(
        result=outcome.result,
        rollout=RolloutOut.of(outcome.rollout, _now()),
        gate=gate,
    )


def _changed(result: Result, rollout: Rollout) -> CommandOut:
    return CommandOut(result=result, rollout=RolloutOut.of(rollout, _now()))


@router.post("/rollouts", status_code=201, response_model=RolloutOut)
async def create_rollout(
    body: RolloutIn, principal: Admin, conn: Tx, settings: Settings, key: IdempotencyKey = None
) -> Response:
    new = NewPlan(
        body.rollout_id, body.name, body.description, body.system, body.owner_id, body.plan()
    )

    async def run() -> RolloutOut:
        return RolloutOut.of(await commands.create(conn, new, principal.sub, _now()), _now())

    return await _command(
        conn, key, principal, settings, route="POST /v1/rollouts", body=body, status=201, run=run
    )


@router.get("/rollouts")
async def list_rollouts(
    _: Reader,
    conn: Tx,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RolloutList:
    found = await rollouts.list_rollouts(conn, status=status, limit=limit + 1, offset=offset)
    now = _now()
    return RolloutList(
        items=[RolloutOut.of(r, now) for r in found[:limit]],
        next_offset=offset + limit if len(found) > limit else None,
    )


@router.get("/rollouts/{rollout_id}")
async def get_rollout(rollout_id: RolloutPath, _: Reader, conn: Tx) -> RolloutOut:
    rollout = await rollouts.get_rollout(conn, rollout_id)
    if rollout is None:
        raise HTTPException(404, f"no rollout {rollout_id!r}")
    return RolloutOut.of(rollout, _now())


@router.get("/rollouts/{rollout_id}/gate")
async def get_gate(
    rollout_id: RolloutPath, principal: Reader, conn: Tx, settings: Settings
) -> GateOut:
    rollout = await rollouts.get_rollout(conn, rollout_id)
    if rollout is None:
        raise HTTPException(404, f"no rollout {rollout_id!r}")
    if rollout.status == "completed":
        raise HTTPException(409, "the rollout is completed: it has no gate left")
    # Approvals are counted for the waiting request, else for an advance by the caller.
    caller = principal.sub if principal.has_any("admin") else None
    requester = rollout.request.requested_by if rollout.request else caller
    view = await reading.view(conn, rollout, _now(), requester=requester)
    return _gate(view, principal, settings)


@router.post("/rollouts/{rollout_id}/start", response_model=CommandOut)
async def start(
    rollout_id: RolloutPath,
    principal: Admin,
    conn: Tx,
    settings: Settings,
    body: StartIn | None = None,
    key: IdempotencyKey = None,
) -> Response:
    command = body or StartIn()

    async def run() -> CommandOut:
        outcome = await commands.start(
            conn, rollout_id, principal.sub, command.override_reason, _now()
        )
        return _done(outcome, principal, settings)

    route = f"POST /v1/rollouts/{rollout_id}/start"
    return await _command(conn, key, principal, settings, route=route, body=command, run=run)


@router.post("/rollouts/{rollout_id}/advance", response_model=CommandOut)
async def advance(
    rollout_id: RolloutPath,
    body: AdvanceIn,
    principal: Admin,
    conn: Tx,
    settings: Settings,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> CommandOut:
        outcome = await commands.advance_stage(
            conn, rollout_id, body.expected_stage, principal.sub, body.override_reason, _now()
        )
        return _done(outcome, principal, settings)

    route = f"POST /v1/rollouts/{rollout_id}/advance"
    return await _command(conn, key, principal, settings, route=route, body=body, run=run)


@router.post("/rollouts/{rollout_id}/approvals", response_model=CommandOut)
async def approve(
    rollout_id: RolloutPath,
    body: ApprovalIn,
    principal: Approver,
    conn: Tx,
    settings: Settings,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> CommandOut:
        outcome = await commands.vote(
            conn,
            rollout_id,
            body.expected_stage,
            principal.sub,
            body.decision,
            body.comment,
            _now(),
        )
        return _done(outcome, principal, settings)

    route = f"POST /v1/rollouts/{rollout_id}/approvals"
    return await _command(conn, key, principal, settings, route=route, body=body, run=run)


@router.post("/rollouts/{rollout_id}/pause", response_model=CommandOut)
async def pause(
    rollout_id: RolloutPath,
    body: PauseIn,
    principal: Admin,
    conn: Tx,
    settings: Settings,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> CommandOut:
        return _changed(
            "paused", await controls.pause(conn, rollout_id, principal.sub, body.reason, _now())
        )

    route = f"POST /v1/rollouts/{rollout_id}/pause"
    return await _command(conn, key, principal, settings, route=route, body=body, run=run)


@router.post("/rollouts/{rollout_id}/resume", response_model=CommandOut)
async def resume(
    rollout_id: RolloutPath,
    principal: Admin,
    conn: Tx,
    settings: Settings,
    body: ResumeIn | None = None,
    key: IdempotencyKey = None,
) -> Response:
    command = body or ResumeIn()

    async def run() -> CommandOut:
        return _changed(
            "resumed",
            await controls.resume(conn, rollout_id, principal.sub, command.reason, _now()),
        )

    route = f"POST /v1/rollouts/{rollout_id}/resume"
    return await _command(conn, key, principal, settings, route=route, body=command, run=run)


@router.post("/rollouts/{rollout_id}/rollback", response_model=CommandOut)
async def rollback(
    rollout_id: RolloutPath,
    body: RollbackIn,
    principal: Admin,
    conn: Tx,
    settings: Settings,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> CommandOut:
        rolled = await controls.rollback(
            conn, rollout_id, body.expected_stage, principal.sub, body.reason, _now()
        )
        return _changed("rolled_back", rolled)

    route = f"POST /v1/rollouts/{rollout_id}/rollback"
    return await _command(conn, key, principal, settings, route=route, body=body, run=run)


@router.get("/rollouts/{rollout_id}/timeline")
async def timeline(
    rollout_id: RolloutPath,
    _: Reader,
    conn: Tx,
    after: Annotated[int, Query(ge=0, description="the last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Timeline:
    if await rollouts.get_rollout(conn, rollout_id) is None:
        raise HTTPException(404, f"no rollout {rollout_id!r}")
    rows = await trail.timeline(conn, rollout_id, after=after, limit=limit)
    items = [TimelineEntry.model_validate(dict(row)) for row in rows]
    return Timeline(items=items, next_after=items[-1].seq if len(items) == limit else None)
