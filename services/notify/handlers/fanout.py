"""Drafts become notifications: rendered in each recipient's language, stored in their inbox
(once per source event, recipient and template), announced with ``notification.sent``, and
queued for their external channels, held for quiet hours or kept for the digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.notify import metrics
from services.notify.domain import delivery, preferences
from services.notify.domain.notifications import Draft
from services.notify.domain.preferences import Preferences, Profile
from services.notify.handlers import events
from services.notify.repository import deliveries, directory, inbox
from services.notify.repository.deliveries import NewDelivery
from services.notify.repository.inbox import NewNotification
from services.notify.schemas import PreferencesDoc
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn

DELIVERY_TIMER = "delivery"
DIGEST_TIMER = "digest"


@dataclass(frozen=True, slots=True)
class Source:
    """What caused the notifications: an event we consumed or emitted, or a timer step."""

    event_id: str
    event_type: str
    rollout_id: str | None = None
    case_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Person:
    profile: Profile = field(default_factory=Profile)
    prefs: Preferences = preferences.DEFAULT

    @property
    def locale(self) -> str | None:
        return self.prefs.locale or self.profile.locale


def stored_preferences(doc: Mapping[str, Any] | None) -> Preferences:
    return PreferencesDoc.model_validate(doc).to_domain() if doc else preferences.DEFAULT


async def people(conn: Conn, staff_ids: Sequence[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    for row in await directory.people(conn, staff_ids):
        profile = Profile(
            email=row["email"],
            timezone=row["timezone"],
            locale=row["locale"],
            name=row["name"],
            manager_id=row["manager_id"],
        )
        found[row["staff_id"]] = Person(profile, stored_preferences(row["prefs"]))
    return found


NOTE_FIELDS = (
    "notification_id",
    "recipient_id",
    "template",
    "source_event_id",
    "source_event_type",
    "rollout_id",
)


def sent_fields(values: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """The fields of a ``notification.*`` event for one notification and channel."""
    fields = {name: values[name] for name in NOTE_FIELDS}
    return {**fields, "notification_id": str(fields["notification_id"]), "channel": channel}


def _fields(row: NewNotification) -> dict[str, Any]:
    return {name: getattr(row, name) for name in NOTE_FIELDS}


async def publish(conn: Conn, deps: Deps, source: Source, drafts: Sequence[Draft]) -> int:
    """Store and queue ``drafts``; returns how many were new (a redelivery stores nothing)."""
    if not drafts:
        return 0
    now = deps.clock()
    known = await people(conn, sorted({d.recipient_id for d in drafts}))
    rows = [
        _render(deps, source, draft, known.get(draft.recipient_id, Person())) for draft in drafts
    ]
    new_ids = await inbox.insert(conn, rows)
    fresh = [
        (row, draft)
        for row, draft in zip(rows, drafts, strict=True)
        if row.notification_id in new_ids
    ]
    await events.notifications_sent(
        conn, [sent_fields(_fields(row), "inbox") for row, _ in fresh], at=now
    )
    for row, _ in fresh:
        metrics.NOTIFICATIONS.labels(row.template).inc()
    await _queue_external(conn, deps, fresh, known, now)
    return len(fresh)


def _render(deps: Deps, source: Source, draft: Draft, person: Person) -> NewNotification:
    text = deps.renderer.render(draft.template, person.locale, draft.data)
    return NewNotification(
        notification_id=uuid4(),
        recipient_id=draft.recipient_id,
        template=draft.template,
        source_event_id=source.event_id,
        source_event_type=source.event_type,
        rollout_id=source.rollout_id,
        case_id=source.case_id,
        locale=text.locale,
        subject=text.subject,
        body=text.body,
        data=dict(draft.data),
        priority=draft.priority,
    )


async def _queue_external(
    conn: Conn,
    deps: Deps,
    fresh: Sequence[tuple[NewNotification, Draft]],
    known: Mapping[str, Person],
    now: datetime,
) -> None:
    shards = deps.settings.delivery_shards
    queued: list[NewDelivery] = []
    for row, draft in fresh:
        person = known.get(row.recipient_id, Person())
        for planned in preferences.plan(
            person.prefs, person.profile, draft.priority, now, email_enabled=deps.email_enabled
        ):
            queued.append(
                NewDelivery(
                    notification_id=row.notification_id,
                    recipient_id=row.recipient_id,
                    channel=planned.channel,
                    address=planned.address,
                    priority=draft.priority,
                    status="pending" if planned.due_at else "digest",
                    shard=delivery.shard_of(row.recipient_id, shards),
                    due_at=planned.due_at,
                )
            )
    await deliveries.insert(conn, queued)
    dues: dict[int, datetime] = {}
    for item in queued:
        if item.due_at is not None:
            dues[item.shard] = min(item.due_at, dues.get(item.shard, item.due_at))
    await arm_shards(conn, dues, deps.clock())
    for recipient in sorted({item.recipient_id for item in queued if item.due_at is None}):
        person = known.get(recipient, Person())
        tz = preferences.zone(person.prefs.timezone or person.profile.timezone)
        due = preferences.next_digest(now, tz, person.prefs)
        await scheduler.schedule(conn, DIGEST_TIMER, recipient, due)


async def arm_shards(conn: Conn, dues: Mapping[int, datetime], now: datetime) -> None:
    """Make each shard's delivery timer fire by the given time, never later than it would.

    The shard row is locked, in shard order, until this transaction ends. A timer whose time
    has come (it is firing, or about to) is left alone: its batch re-arms from the same row
    when it ends, after this transaction, so it sees what was queued here. The timer row
    itself, held by a batch being sent, is therefore only touched when no batch can hold it."""
    for shard, due in sorted(dues.items()):
        armed = await deliveries.lock_shard(conn, shard, now)
        if armed.due is None or (due < armed.due and not armed.passed):
            await deliveries.set_shard_due(conn, shard, due)
            await scheduler.schedule(conn, DELIVERY_TIMER, str(shard), due)
