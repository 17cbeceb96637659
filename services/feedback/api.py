"""Feedback HTTP routes: parse, call one handler, format."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from services.feedback import config
from services.feedback.domain import privacy
from services.feedback.domain.cases import IllegalTransition
from services.feedback.handlers import NotFound, UnknownRollout, lifecycle, queries, submission
from services.feedback.schemas import (
    FeedbackIn,
    FeedbackOut,
    FeedbackPage,
    FeedbackQuery,
    PeriodQuery,
    ResolveIn,
    SummaryOut,
    decode_cursor,
    encode_cursor,
)
from shared import ratelimit
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import Tx, connection
from shared.idempotency import IdempotencyKey, idempotent

router = APIRouter(tags=["feedback"])

FeedbackPolicy = Annotated[config.Policy, Depends(config.current_policy)]
Submitter = Annotated[Principal, Depends(require_roles("staff"))]
Support = Annotated[Principal, Depends(require_roles("it_support"))]
Reader = Annotated[Principal, Depends(require_roles("it_support", "admin"))]
Analyst = Annotated[Principal, Depends(require_roles("admin", "approver"))]


def _invalid(field: str, kind: str, message: str) -> HTTPException:
    """A 422 shaped like request-validation errors, for checks that need the database."""
    error = {"loc": ["body", field], "msg": message, "type": kind}
    return HTTPException(422, {"detail": "the request is not valid", "errors": [error]})


@contextmanager
def _http_errors() -> Iterator[None]:
    try:
        yield
    except NotFound:
        raise HTTPException(404, "no such feedback") from None
    except UnknownRollout:
        raise _invalid("rollout_id", "unknown_rollout", "no such rollout") from None
    except IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/feedback", status_code=201, response_model=FeedbackOut)
async def submit_feedback(
    request: Request,
    body: FeedbackIn,
    principal: Submitter,
    policy: FeedbackPolicy,
    key: IdempotencyKey = None,  # with a key, idempotent() runs it all in one transaction
) -> Response:
    # A pseudonym, not the staff id: these plumbing rows must not name anonymous submitters.
    caller = privacy.person_key(policy.secret, principal.sub)
    # No transaction: the one write stores the feedback and stages its event in one statement.
    async with connection(request) as conn:

        async def run() -> FeedbackOut:
            hit = ratelimit.hit(
                f"feedback:{caller}", limit=policy.rate_limit, window_s=policy.rate_window_s
            )
            with _http_errors():
                row = await submission.submit_feedback(
                    conn, body, principal.sub, policy=policy, now=datetime.now(UTC), hit=hit
                )
            return FeedbackOut.model_validate(row)

        scope = f"{caller}:POST /v1/feedback"
        return await idempotent(conn, key, scope=scope, request=body, status=201, run=run)


@router.get("/feedback")
async def list_feedback(
    query: Annotated[FeedbackQuery, Query()], principal: Reader, conn: Tx
) -> FeedbackPage:
    try:
        after = decode_cursor(query.cursor) if query.cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    rows, following = await queries.list_feedback(
        conn, query.filters(), after=after, limit=query.limit
    )
    return FeedbackPage(
        items=[FeedbackOut.model_validate(row) for row in rows],
        next_cursor=encode_cursor(following) if following else None,
    )


@router.get("/feedback/{feedback_id}")
async def get_feedback(
    feedback_id: uuid.UUID, principal: CurrentPrincipal, conn: Tx, policy: FeedbackPolicy
) -> FeedbackOut:
    with _http_errors():
        row = await queries.get_feedback(
            conn,
            feedback_id,
            principal.sub,
            sees_all=principal.has_any("it_support", "admin"),
            policy=policy,
        )
    return FeedbackOut.model_validate(row)


@router.post("/feedback/{feedback_id}/acknowledge", response_model=FeedbackOut)
async def acknowledge(
    feedback_id: uuid.UUID, principal: Support, conn: Tx, key: IdempotencyKey = None
) -> Response:
    async def run() -> FeedbackOut:
        with _http_errors():
            row = await lifecycle.acknowledge(
                conn, feedback_id, principal.sub, now=datetime.now(UTC)
            )
        return FeedbackOut.model_validate(row)

    scope = f"{principal.sub}:POST /v1/feedback/{feedback_id}/acknowledge"
    return await idempotent(conn, key, scope=scope, request=None, status=200, run=run)


@router.post("/feedback/{feedback_id}/resolve", response_model=FeedbackOut)
async def resolve(
    feedback_id: uuid.UUID,
    body: ResolveIn,
    principal: Support,
    conn: Tx,
    key: IdempotencyKey = None,
) -> Response:
    async def run() -> FeedbackOut:
        with _http_errors():
            row = await lifecycle.resolve(
                conn, feedback_id, principal.sub, body.resolution, now=datetime.now(UTC)
            )
        return FeedbackOut.model_validate(row)

    scope = f"{principal.sub}:POST /v1/feedback/{feedback_id}/resolve"
    return await idempotent(conn, key, scope=scope, request=body, status=200, run=run)


@router.get("/rollouts/{rollout_id}/feedback-summary")
async def feedback_summary(
    rollout_id: str,
    query: Annotated[PeriodQuery, Query()],
    principal: Analyst,
    conn: Tx,
    policy: FeedbackPolicy,
) -> SummaryOut:
    now = datetime.now(UTC)
    try:
        rollout, summary = await queries.feedback_summary(
            conn, rollout_id, query.period(), policy=policy, now=now
        )
    except NotFound:
        raise HTTPException(404, "no such rollout") from None
    about = {"rollout_id": rollout_id, "name": rollout["name"], "generated_at": now}
    period = {"since": query.since, "until": query.until}
    return SummaryOut.model_validate(asdict(summary) | about | period)
