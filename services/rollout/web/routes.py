"""The rollout dashboard: HTML pages (no data, outside ``/v1``) and the HTML fragments they
load from ``/v1/dashboard/...``, which check the bearer token and the role like every other
``/v1`` route. Commands go to the rollout API itself, from the page's script."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from services.rollout.domain.lifecycle import Rollout
from services.rollout.handlers import reading
from services.rollout.repository import dashboard, escalations, rollouts
from services.rollout.schemas import GateOut, RolloutOut
from services.rollout.settings import RolloutSettings, get_settings
from services.rollout.web import view
from shared.auth import Principal, require_roles
from shared.deps import Tx
from shared.web import Pages

HERE = Path(__file__).parent
PAGES = Pages([HERE / "templates"], [HERE / "i18n"])
TIMELINE_LIMIT = 30

Reader = Annotated[Principal, Depends(require_roles("admin", "approver"))]
Settings = Annotated[RolloutSettings, Depends(get_settings)]
RolloutPath = Annotated[str, PathParam(min_length=1, max_length=200)]

pages = APIRouter(include_in_schema=False)
fragments = APIRouter(prefix="/dashboard", include_in_schema=False)


@pages.get("/dashboard", response_class=HTMLResponse)
async def list_page(request: Request) -> HTMLResponse:
    return PAGES.render(request, "list_page.html.j2")


@pages.get("/dashboard/rollouts/{rollout_id}", response_class=HTMLResponse)
async def rollout_page(request: Request, rollout_id: RolloutPath) -> HTMLResponse:
    return PAGES.render(request, "rollout_page.html.j2", rollout_id=rollout_id)


@fragments.get("/rollouts", response_class=HTMLResponse)
async def rollout_list(request: Request, _: Reader, conn: Tx) -> HTMLResponse:
    found = await rollouts.list_rollouts(conn, status=None, limit=200, offset=0)
    now = datetime.now(UTC)
    items = [RolloutOut.of(r, now) for r in found]
    counts = await escalations.open_counts(conn, [r.rollout_id for r in found])
    blockers = await dashboard.open_blocker_counts(conn, [r.rollout_id for r in found])
    return PAGES.render(request, "list.html.j2", items=items, escalations=counts, blockers=blockers)


@fragments.get("/rollouts/{rollout_id}", response_class=HTMLResponse)
async def rollout_view(
    request: Request, rollout_id: RolloutPath, principal: Reader, conn: Tx, settings: Settings
) -> HTMLResponse:
    context = await _live(conn, rollout_id, principal, settings)
    can = {
        "admin": principal.has_any("admin"),
        "approver": principal.has_any("approver"),
    }
    return PAGES.render(request, "rollout.html.j2", can=can, **context)


@fragments.get("/rollouts/{rollout_id}/live", response_class=HTMLResponse)
async def rollout_live(
    request: Request, rollout_id: RolloutPath, principal: Reader, conn: Tx, settings: Settings
) -> HTMLResponse:
    context = await _live(conn, rollout_id, principal, settings)
    return PAGES.render(request, "live.html.j2", **context)


async def _live(
    conn: Tx, rollout_id: str, principal: Principal, settings: RolloutSettings
) -> dict[str, Any]:
    rollout = await rollouts.get_rollout(conn, rollout_id)
    if rollout is None:
        raise HTTPException(404, f"no rollout {rollout_id!r}")
    now = datetime.now(UTC)
    gate = await _gate(conn, rollout, principal, settings, now)
    plan = rollout.plan
    department_ids = sorted({d for s in plan.stages for d in s.cohort.department_ids})
    names = await dashboard.department_names(conn, department_ids)
    threshold = None
    rule = rollout.stage_rule
    if rule is not None and rule.gate.satisfaction is not None:
        threshold = rule.gate.satisfaction.threshold
    chart = view.satisfaction_chart(
        await dashboard.stage_entries(conn, rollout_id),
        await dashboard.ratings(conn, rollout_id),
        [s.name for s in plan.stages],
        threshold,
        no_department="—",
    )
    return {
        "rollout": RolloutOut.of(rollout, now),
        "gate": gate,
        "criteria": {c.name: c for c in gate.criteria} if gate else {},
        "steps": view.steps(plan, rollout.stage, rollout.status == "completed", names),
        "blockers": await dashboard.open_blockers(conn, rollout_id),
        "escalations": await escalations.open_cases(conn, rollout_id),
        "chart": chart,
        "timeline": await dashboard.recent_timeline(conn, rollout_id, TIMELINE_LIMIT),
        "stage_names": [s.name for s in plan.stages],
        "now": now,
    }


async def _gate(
    conn: Tx, rollout: Rollout, principal: Principal, settings: RolloutSettings, now: datetime
) -> GateOut | None:
    """The gate report exactly as ``GET /v1/rollouts/{id}/gate`` gives it to this caller."""
    if rollout.status == "completed":
        return None
    caller = principal.sub if principal.has_any("admin") else None
    requester = rollout.request.requested_by if rollout.request else caller
    found = await reading.view(conn, rollout, now, requester=requester)
    return GateOut.of(
        found,
        show_staff=principal.has_any("admin"),
        staff_limit=settings.rollout_report_staff_limit,
    )
