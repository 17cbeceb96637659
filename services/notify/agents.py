"""What the notify service consumes (topic → event type → handler) and its timers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from services.notify.handlers import (
    cases,
    delivery,
    directory,
    feedback,
    reminders,
    rollout,
    stall,
)
from services.notify.handlers.fanout import DELIVERY_TIMER, DIGEST_TIMER
from services.notify.settings import Deps
from shared.consumer import Handler
from shared.db import Conn
from shared.events import CloudEvent, topics
from shared.scheduler import Timer, TimerHandler

EventHandler = Callable[[Deps, Conn, CloudEvent[Any]], Awaitable[None]]
TimerUseCase = Callable[[Deps, Conn, Timer], Awaitable[None]]

_EVENTS: Mapping[str, Mapping[str, EventHandler]] = {
    topics.DIRECTORY: {
        "onramp.staff.upserted.v1": directory.on_staff_upserted,
        "onramp.department.upserted.v1": directory.on_department_upserted,
    },
    topics.TRAINING: {"onramp.training.completed.v1": directory.on_training_completed},
    topics.FEEDBACK: {
        "onramp.feedback.submitted.v1": feedback.on_submitted,
        "onramp.feedback.acknowledged.v1": feedback.on_acknowledged,
        "onramp.feedback.resolved.v1": feedback.on_resolved,
    },
    topics.ROLLOUT: {
        "onramp.rollout.created.v1": rollout.on_created,
        "onramp.rollout.stage_advanced.v1": rollout.on_stage_advanced,
        "onramp.rollout.gate_changed.v1": rollout.on_gate_changed,
        "onramp.rollout.paused.v1": rollout.on_paused,
        "onramp.rollout.resumed.v1": rollout.on_resumed,
        "onramp.rollout.rolled_back.v1": rollout.on_rolled_back,
        "onramp.rollout.completed.v1": rollout.on_completed,
    },
}

_TIMERS: Mapping[str, TimerUseCase] = {
    DELIVERY_TIMER: delivery.send_due,
    DIGEST_TIMER: delivery.make_digest,
    cases.ESCALATION_TIMER: cases.fire_level,
    reminders.REMINDER_TIMER: reminders.fire_step,
    stall.STALL_TIMER: stall.fire_stall,
}


def _bind_event(deps: Deps, handler: EventHandler) -> Handler:
    async def handle(conn: Conn, event: CloudEvent[Any]) -> None:
        await handler(deps, conn, event)

    return handle


def _bind_timer(deps: Deps, handler: TimerUseCase) -> TimerHandler:
    async def fire(conn: Conn, timer: Timer) -> None:
        await handler(deps, conn, timer)

    return fire


def subscriptions(deps: Deps) -> dict[str, dict[str, Handler]]:
    return {
        topic: {type_: _bind_event(deps, handler) for type_, handler in handlers.items()}
        for topic, handlers in _EVENTS.items()
    }


def timers(deps: Deps) -> dict[str, TimerHandler]:
    return {kind: _bind_timer(deps, handler) for kind, handler in _TIMERS.items()}
