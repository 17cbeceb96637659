"""External delivery for real: mail to a local SMTP server, webhooks to a local HTTP receiver,
failures retried with backoff and reported with notification.failed after the last try,
quiet hours and the daily digest on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from onramp.backends import free_port
from tests.integration.notify import builders as b
from tests.integration.notify.conftest import T0, Receiver, World
from tests.support.smtp import SmtpSink

CHATS = ("slack", "teams", "dingtalk", "wecom", "feishu")


async def prefs(world: World, staff_id: str, doc: dict[str, Any]) -> None:
    await world.pool.execute(
        "INSERT INTO preferences (staff_id, prefs) VALUES ($1, $2)", staff_id, doc
    )


async def urgent_issue_for(world: World, *support: tuple[str, dict[str, Any]]) -> str:
    """IT support people as given, then a critical issue: returns the feedback id."""
    for staff_id, fields in support:
        await world.consume(b.staff(staff_id, T0, roles=["it_support"], **fields))
    report = b.issue("r-1", T0)
    await world.consume(report)
    return str(report.data.feedback_id)


async def test_email_reaches_the_smtp_server_once(world: World, mail_sink: SmtpSink) -> None:
    address = "it-mail@example.com"
    await urgent_issue_for(world, ("it-mail", {"email": address, "locale": "zh-CN"}))
    assert [d["status"] for d in await world.deliveries("it-mail")] == ["pending"]
    await world.fire_due()

    (mail,) = mail_sink.inbox.to(address)
    assert "严重" in str(mail["Subject"]) or "=?utf-8?" in str(mail["Subject"])
    assert mail["Content-Language"] == "zh-CN"
    assert mail["Message-ID"].startswith("<onramp-delivery-")
    assert "需要确认" in mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    (delivery,) = await world.deliveries("it-mail")
    assert (delivery["status"], delivery["attempts"]) == ("sent", 1)
    channels = [e.data.channel for e in await world.published("onramp.notification.sent.v1")]
    assert sorted(channels) == ["email", "inbox"]
    await world.fire_due()
    assert len(mail_sink.inbox.to(address)) == 1  # nothing sent twice


@pytest.mark.parametrize("channel", CHATS)
async def test_chat_webhooks_get_their_providers_format(
    world: World, receiver: Receiver, channel: str
) -> None:
    path = f"/{channel}/{world.schema}"
    await prefs(
        world,
        "it-chat",
        {"channels": {channel: True, "email": False}, "webhooks": {channel: receiver.url(path)}},
    )
    await urgent_issue_for(world, ("it-chat", {}))
    await world.fire_due()

    (request,) = receiver.at(path)
    text = json.dumps(request.body, ensure_ascii=False)
    assert "[Onramp] Critical issue reported in rollout r-1" in text
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"].startswith("onramp-delivery-")
    shape = {
        "slack": "text",
        "teams": "attachments",
        "dingtalk": "msgtype",
        "wecom": "msgtype",
        "feishu": "msg_type",
    }[channel]
    assert shape in request.body
    (delivery,) = await world.deliveries("it-chat")
    assert (delivery["channel"], delivery["status"]) == (channel, "sent")


async def test_a_failing_webhook_is_retried_with_backoff_then_reported(
    world: World, receiver: Receiver
) -> None:
    path = f"/broken/{world.schema}"
    receiver.answer(path, (500, b"down"))
    await prefs(
        world,
        "it-chat",
        {"channels": {"slack": True, "email": False}, "webhooks": {"slack": receiver.url(path)}},
    )
    await urgent_issue_for(world, ("it-chat", {}))

    await world.fire_due()
    (delivery,) = await world.deliveries("it-chat")
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert delivery["due_at"] == T0 + timedelta(seconds=60)  # the first backoff
    assert delivery["last_error"] == "HTTP 500"
    await world.run_until(T0 + timedelta(seconds=59))
    assert len(receiver.at(path)) == 1  # not before its time
    await world.run_until(T0 + timedelta(seconds=60 + 120))  # second try, then the third
    assert len(receiver.at(path)) == 3
    (delivery,) = await world.deliveries("it-chat")
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    (failed,) = await world.published("onramp.notification.failed.v1")
    assert (failed.data.channel, failed.data.attempts, failed.data.error) == (
        "slack",
        3,
        "HTTP 500",
    )
    assert failed.data.recipient_id == "it-chat"
    assert failed.data.template == "issue.reported"
    await world.run_until(T0 + timedelta(days=1))  # later levels page again: new deliveries
    key = f"onramp-delivery-{delivery['delivery_id']}"
    assert len([r for r in receiver.at(path) if r.headers["Idempotency-Key"] == key]) == 3


async def test_a_refused_webhook_fails_at_once(world: World, receiver: Receiver) -> None:
    path = f"/gone/{world.schema}"
    receiver.answer(path, (404, b"no_service"))
    await prefs(
        world,
        "it-chat",
        {"channels": {"slack": True, "email": False}, "webhooks": {"slack": receiver.url(path)}},
    )
    await urgent_issue_for(world, ("it-chat", {}))
    await world.fire_due()
    (delivery,) = await world.deliveries("it-chat")
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    (failed,) = await world.published("onramp.notification.failed.v1")
    assert failed.data.error == "HTTP 404: no_service"


async def test_a_rate_limited_bot_gets_it_on_the_next_try(world: World, receiver: Receiver) -> None:
    path = f"/dingtalk-busy/{world.schema}"
    receiver.answer(
        path,
        (200, b'{"errcode":130101,"errmsg":"send too fast"}'),
        (200, b'{"errcode":0,"errmsg":"ok"}'),
    )
    await prefs(
        world,
        "it-chat",
        {
            "channels": {"dingtalk": True, "email": False},
            "webhooks": {"dingtalk": receiver.url(path)},
        },
    )
    await urgent_issue_for(world, ("it-chat", {}))
    await world.run_until(T0 + timedelta(minutes=5))
    assert len(receiver.at(path)) == 2
    (delivery,) = await world.deliveries("it-chat")
    assert (delivery["status"], delivery["attempts"]) == ("sent", 2)


async def test_a_mail_server_that_is_down_is_retried_then_reported(world: World) -> None:
    nowhere = world.with_settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_s=2)
    await urgent_issue_for(nowhere, ("it-mail", {"email": "it@example.com"}))
    await nowhere.run_until(T0 + timedelta(minutes=10))
    (delivery,) = await nowhere.deliveries("it-mail")
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    assert "ConnectionRefusedError" in delivery["last_error"]
    assert len(await nowhere.published("onramp.notification.failed.v1")) == 1


class _RefusingHandler:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture
def refusing_smtp() -> Iterator[tuple[str, int]]:
    port = free_port()
    controller = Controller(_RefusingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield "127.0.0.1", port
    controller.stop()


async def test_a_mailbox_the_server_refuses_is_not_retried(
    world: World, refusing_smtp: tuple[str, int]
) -> None:
    host, port = refusing_smtp
    strict = world.with_settings(smtp_host=host, smtp_port=port)
    await urgent_issue_for(
        strict, ("it-a", {"email": "nobody@example.com"}), ("it-b", {"email": "b@example.com"})
    )
    await strict.fire_due()
    deliveries = {d["recipient_id"]: d for d in await strict.deliveries()}
    assert (deliveries["it-a"]["status"], deliveries["it-a"]["attempts"]) == ("failed", 1)
    assert "550" in deliveries["it-a"]["last_error"]
    assert deliveries["it-b"]["status"] == "sent"  # the same connection carried on


async def test_quiet_hours_hold_mail_until_morning_but_not_escalations(
    world: World, mail_sink: SmtpSink
) -> None:
    night_owl = {"quiet_hours": {"start": "08:00:00", "end": "18:00:00"}}  # T0 is 09:00 UTC
    await prefs(world, "owner-1", night_owl)
    await prefs(world, "it-q", night_owl)
    await world.consume(b.staff("owner-1", T0, email="owner@example.com"))
    await world.consume(b.created("r-1", "owner-1", T0))
    await urgent_issue_for(world, ("it-q", {"email": "itq@example.com"}))
    await world.consume(b.gate("r-1", 0, "pending", "pass", T0))  # gate.ready: normal priority

    (held,) = await world.deliveries("owner-1")
    assert (held["template"], held["due_at"]) == ("gate.ready", T0.replace(hour=18))
    assert [n["template"] for n in await world.inbox("owner-1")] == ["gate.ready"]  # in-app now
    await world.fire_due()
    assert len(mail_sink.inbox.to("itq@example.com")) == 1  # the escalation went out at once
    assert mail_sink.inbox.to("owner@example.com") == []
    await world.run_until(T0.replace(hour=18))
    released = [m for m in mail_sink.inbox.to("owner@example.com") if "ready" in m["Subject"]]
    assert len(released) == 1


async def test_low_priority_news_waits_for_the_daily_digest(
    world: World, mail_sink: SmtpSink
) -> None:
    address = "digest-owner@example.com"
    await prefs(world, "owner-1", {"digest": {"enabled": True, "at": "17:00:00"}})
    await world.consume(b.staff("owner-1", T0, email=address, timezone="Europe/Berlin"))
    await world.consume(b.created("r-1", "owner-1", T0))
    for stage_index in (0, 1):  # two "stage started" notices: low priority for the owner
        current = b.stage(f"S{stage_index}", [f"m-{stage_index}"])
        await world.consume(b.advanced("r-1", stage_index, T0, current=current))
    await world.consume(b.gate("r-1", 1, "pending", "pass", T0))  # normal: not digested

    statuses = sorted((d["template"], d["status"]) for d in await world.deliveries("owner-1"))
    assert statuses == [
        ("gate.ready", "pending"),
        ("stage.advanced", "digest"),
        ("stage.advanced", "digest"),
    ]
    await world.fire_due()
    assert len(mail_sink.inbox.to(address)) == 1  # gate.ready

    await world.run_until(T0.replace(hour=15))  # 17:00 in Berlin (summer time)
    digest = mail_sink.inbox.to(address)[-1]
    assert digest["Subject"] == "Your Onramp digest: 2 update(s)"
    body = digest.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body.count("CRM 2027: stage") == 2
    assert {d["status"] for d in await world.deliveries("owner-1")} == {"sent"}
    sent = [
        e.data
        for e in await world.published("onramp.notification.sent.v1")
        if e.data.recipient_id == "owner-1" and e.data.channel == "email"
    ]
    assert sorted(s.template for s in sent) == ["gate.ready", "stage.advanced", "stage.advanced"]
