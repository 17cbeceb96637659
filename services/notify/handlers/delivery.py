"""The delivery and digest timers: the only code that talks to SMTP servers and webhooks.

One ``delivery`` timer per shard takes a batch of due deliveries, sends them concurrently and
records each attempt: sent (``notification.sent``), retried later with backoff, or failed for
good after the last try (``notification.failed``). It then re-arms itself for the shard's next
due delivery.

Sending happens inside the timer's transaction, which is kept short instead of avoided: it
holds only the claimed delivery rows (``SKIP LOCKED``: nobody waits for them) and the shard's
timer row, which consumers leave alone while a batch runs (see ``fanout.arm_shards``). Each
send is bounded by its channel's timeout, and a batch by ``ONRAMP_DELIVERY_BATCH_SIZE``. A crash
mid-batch rolls the attempt back and the batch goes again: external channels are at least once
(with a stable Message-ID / Idempotency-Key per delivery so receivers can drop a repeat).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.notify import metrics
from services.notify.channels import Message, Result
from services.notify.domain import preferences
from services.notify.domain.notifications import DIGEST_TEMPLATE
from services.notify.handlers import events
from services.notify.handlers.fanout import (
    DELIVERY_TIMER,
    arm_shards,
    sent_fields,
    stored_preferences,
)
from services.notify.repository import deliveries
from services.notify.repository.deliveries import NewDelivery
from services.notify.settings import Deps
from shared import scheduler
from shared.db import Conn
from shared.scheduler import Timer

Row = dict[str, Any]


async def send_due(deps: Deps, conn: Conn, timer: Timer) -> None:
    """Timer ``delivery/<shard>``: one batch of the shard's due deliveries."""
    shard = int(timer.key)
    now = deps.clock()
    rows = await deliveries.claim_due(conn, shard, now, deps.settings.delivery_batch_size)
    carried = await deliveries.carried(
        conn, [r["delivery_id"] for r in rows if r["notification_id"] is None]
    )
    holds: list[tuple[int, datetime]] = []
    messages: list[Message] = []
    for row in rows:
        prefs = stored_preferences(row["prefs"])
        profile = preferences.Profile(timezone=row["timezone"], locale=row["staff_locale"])
        until = preferences.hold_until(now, prefs, profile, row["priority"])
        if until is not None:
            holds.append((row["delivery_id"], until))
            metrics.DELIVERIES.labels(row["channel"], "held").inc()
        else:
            messages.append(_message(deps, row, carried, prefs.locale or profile.locale))
    results = await _send(deps, messages)
    await _record(conn, deps, {r["delivery_id"]: r for r in rows}, carried, results)
    await deliveries.hold(conn, holds)
    await _rearm(conn, shard, now)


def _message(
    deps: Deps, row: Row, carried: Mapping[int, list[Row]], locale_tag: str | None
) -> Message:
    subject, body, locale = row["subject"], row["body"], row["locale"]
    if row["notification_id"] is None:  # a digest: rendered now, in today's language
        items = [
            {"subject": n["subject"], "template": n["template"]}
            for n in carried.get(row["delivery_id"], [])
        ]
        text = deps.renderer.render(DIGEST_TEMPLATE, locale_tag, {"items": items})
        subject, body, locale = text.subject, text.body, text.locale
    return Message(
        key=row["delivery_id"],
        channel=row["channel"],
        address=row["address"],
        subject=subject,
        body=body,
        locale=locale,
        message_id=f"onramp-delivery-{row['delivery_id']}",
    )


async def _send(deps: Deps, messages: Sequence[Message]) -> list[Result]:
    email = [m for m in messages if m.channel == "email"]
    chat = [m for m in messages if m.channel != "email"]
    if deps.email is None:
        unsent = [Result(m.key, False, True, "email is not configured") for m in email]
        return unsent + await deps.chat.send(chat)
    sent_email, sent_chat = await asyncio.gather(deps.email.send(email), deps.chat.send(chat))
    return [*sent_email, *sent_chat]


async def _record(
    conn: Conn,
    deps: Deps,
    rows: Mapping[int, Row],
    carried: Mapping[int, list[Row]],
    results: Sequence[Result],
) -> None:
    """One attempt per result: sent, retried after a backoff, or failed after the last try."""
    now = deps.clock()
    policy = deps.settings.retry_policy()
    done: list[int] = []
    retries: list[tuple[int, datetime, str]] = []
    failures: list[tuple[int, str]] = []
    for result in results:
        row = rows[result.key]
        channel, attempts = row["channel"], row["attempts"] + 1
        wait = None if result.ok else policy.after_failure(attempts, permanent=result.permanent)
        if result.ok:
            done.append(result.key)
            late = max(0.0, (now - row["due_at"]).total_seconds())
            metrics.DELIVERY_LATENESS.labels(channel).observe(late)
        elif wait is not None:
            retries.append((result.key, now + wait, result.error))
        else:
            failures.append((result.key, result.error))
        outcome = "sent" if result.ok else "retry" if wait is not None else "failed"
        metrics.DELIVERIES.labels(channel, outcome).inc()
        for note in _notes(row, carried) if outcome != "retry" else ():
            fields = sent_fields(note, channel)
            if result.ok:
                await events.notification_sent(conn, fields, at=now)
            else:
                error = result.error or "failed"
                await events.notification_failed(
                    conn, fields, attempts=attempts, error=error, at=now
                )
    await deliveries.sent(conn, done, now)
    await deliveries.retry_later(conn, retries)
    await deliveries.failed(conn, failures)


def _notes(row: Row, carried: Mapping[int, list[Row]]) -> list[Row]:
    """The notifications a delivery stands for: itself, or what its digest carries."""
    if row["notification_id"] is not None:
        return [row]
    return [{**note, "recipient_id": row["recipient_id"]} for note in carried[row["delivery_id"]]]


async def _rearm(conn: Conn, shard: int, now: datetime) -> None:
    await deliveries.lock_shard(conn, shard, now)
    due = await deliveries.next_pending_due(conn, shard)
    await deliveries.set_shard_due(conn, shard, due)
    if due is not None:
        await scheduler.schedule(conn, DELIVERY_TIMER, str(shard), due)


async def make_digest(deps: Deps, conn: Conn, timer: Timer) -> None:
    """Timer ``digest/<recipient>``: fold the person's waiting low-priority messages into one
    digest delivery per channel, sent right away."""
    recipient = timer.key
    waiting = await deliveries.take_for_digest(conn, recipient)
    by_channel: dict[str, list[Row]] = {}
    for row in waiting:
        by_channel.setdefault(row["channel"], []).append(row)
    now = deps.clock()
    dues: dict[int, datetime] = {}
    for channel, rows in sorted(by_channel.items()):
        latest = rows[-1]
        digest = NewDelivery(
            None, recipient, channel, latest["address"], "low", "pending", latest["shard"], now
        )
        await deliveries.digest_made(conn, digest, [r["delivery_id"] for r in rows])
        dues[latest["shard"]] = now
    await arm_shards(conn, dues, now)
