"""Chat webhooks: message formats, the URL allow-list and reading providers' answers."""

from __future__ import annotations

import json

import pytest

from services.notify.domain import webhooks
from services.notify.domain.webhooks import (
    PROVIDER_HOSTS,
    Answer,
    payload,
    read_answer,
    url_problem,
)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("slack", {"text": "*[Onramp] Hi*\nBody"}),
        (
            "dingtalk",
            {
                "msgtype": "markdown",
                "markdown": {"title": "[Onramp] Hi", "text": "### [Onramp] Hi\n\nBody"},
            },
        ),
        ("wecom", {"msgtype": "markdown", "markdown": {"content": "**[Onramp] Hi**\nBody"}}),
        ("feishu", {"msg_type": "text", "content": {"text": "[Onramp] Hi\nBody"}}),
    ],
)
def test_payloads(channel: str, expected: dict[str, object]) -> None:
    assert payload(channel, "Hi", "Body") == expected


def test_teams_gets_an_adaptive_card() -> None:
    message = payload("teams", "Hi", "Body")
    (attachment,) = message["attachments"]
    assert message["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in attachment["content"]["body"]]
    assert texts == ["[Onramp] Hi", "Body"]


def test_every_payload_carries_the_keyword_and_is_json() -> None:
    for channel in ("slack", "teams", "dingtalk", "wecom", "feishu"):
        assert "Onramp" in json.dumps(payload(channel, "主题", "正文"), ensure_ascii=False)
    with pytest.raises(ValueError, match="not a chat channel"):
        payload("email", "s", "b")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("https://prod-1.westeurope.logic.azure.com:443/workflows/x", True),
        ("https://acme.webhook.office.com/webhookb2/x", True),
        ("https://oapi.dingtalk.com/robot/send?access_token=x", True),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", True),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/x", True),
        ("http://hooks.slack.com/services/T/B/X", False),  # no TLS
        ("https://hooks.slack.com.evil.example/x", False),
        ("https://evil.example/hooks.slack.com", False),
        ("https://user:pw@hooks.slack.com/services/x", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("ftp://hooks.slack.com/x", False),
        ("not a url", False),
        ("https://logic.azure.com.example/x", False),
    ],
)
def test_only_provider_hosts_over_https_by_default(url: str, allowed: bool) -> None:
    assert (url_problem(url, PROVIDER_HOSTS) is None) is allowed


def test_operators_may_allow_plain_http_to_a_named_host() -> None:
    allowed = [*PROVIDER_HOSTS, "http://127.0.0.1", "chat.internal"]
    assert url_problem("http://127.0.0.1:8080/hook", allowed) is None
    assert url_problem("https://127.0.0.1:8080/hook", allowed) is None
    assert url_problem("https://chat.internal/hook", allowed) is None
    assert url_problem("http://chat.internal/hook", allowed) is not None


@pytest.mark.parametrize(
    ("channel", "status", "body", "answer"),
    [
        ("slack", 200, b"ok", Answer(True)),
        ("teams", 202, b"", Answer(True)),
        ("slack", 500, b"", Answer(False, False, "HTTP 500")),
        ("slack", 429, b"", Answer(False, False, "HTTP 429")),
        ("slack", 408, b"", Answer(False, False, "HTTP 408")),
        ("slack", 404, b"no_service", Answer(False, True, "HTTP 404: no_service")),
        ("slack", 302, b"", Answer(False, True, "HTTP 302: ")),
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', Answer(True)),
        (
            "dingtalk",
            200,
            b'{"errcode":310000,"errmsg":"keywords"}',
            Answer(False, True, "dingtalk error code 310000"),
        ),
        (
            "dingtalk",
            200,
            b'{"errcode":130101}',
            Answer(False, False, "dingtalk error code 130101"),
        ),
        ("wecom", 200, b'{"errcode":45009}', Answer(False, False, "wecom error code 45009")),
        ("wecom", 200, b'{"errcode":93000}', Answer(False, True, "wecom error code 93000")),
        ("feishu", 200, b'{"code":0,"msg":"success"}', Answer(True)),
        ("feishu", 200, b'{"StatusCode":0}', Answer(True)),
        (
            "feishu",
            200,
            b'{"code":19021,"msg":"sign match fail"}',
            Answer(False, True, "feishu error code 19021"),
        ),
        ("feishu", 200, b'{"code":11232}', Answer(False, False, "feishu error code 11232")),
        ("feishu", 200, b"not json", Answer(True)),
    ],
)
def test_read_answer(channel: str, status: int, body: bytes, answer: Answer) -> None:
    assert read_answer(channel, status, body) == answer


def test_provider_hosts_are_documented_defaults() -> None:
    assert "hooks.slack.com" in webhooks.PROVIDER_HOSTS
