"""Chat webhooks: each provider's message format, which URLs we may post to, and how to read
the provider's answer. The sending itself lives in ``services.notify.channels``.

Every message starts with "[Onramp]", so a DingTalk or Feishu bot secured by the keyword
"Onramp" accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Official incoming-webhook hosts; operators may add their own (ONRAMP_WEBHOOK_ALLOWED_HOSTS).
PROVIDER_HOSTS: tuple[str, ...] = (
    "hooks.slack.com",
    "*.webhook.office.com",
    "*.logic.azure.com",
    "*.api.powerplatform.com",
    "oapi.dingtalk.com",
    "qyapi.weixin.qq.com",
    "open.feishu.cn",
    "open.larksuite.com",
)
# Provider error codes that mean "slow down" rather than "this will never work".
_RATE_LIMITED = {"dingtalk": {130101}, "wecom": {45009}, "feishu": {11232}}


def payload(channel: str, subject: str, body: str) -> dict[str, Any]:
    """The JSON body of an incoming-webhook message for ``channel``."""
    title = f"[Onramp] {subject}"
    if channel == "slack":
        return {"text": f"*{title}*\n{body}"}
    if channel == "teams":  # Teams workflows and incoming webhooks both take an Adaptive Card
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": title, "weight": "bolder", "wrap": True},
                {"type": "TextBlock", "text": body, "wrap": True},
            ],
        }
        content_type = "application/vnd.microsoft.card.adaptive"
        return {"type": "message", "attachments": [{"contentType": content_type, "content": card}]}
    if channel == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": f"### {title}\n\n{body}"},
        }
    if channel == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{body}"}}
    if channel == "feishu":
        return {"msg_type": "text", "content": {"text": f"{title}\n{body}"}}
    raise ValueError(f"not a chat channel: {channel}")


def url_problem(url: str, allowed: Sequence[str]) -> str | None:
    """Why we may not post to ``url`` (None when we may).

    ``allowed`` holds host names, ``*.suffix`` wildcards, and ``http://host`` for hosts that may
    be reached without TLS (a local test receiver); everything else must be https.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "a webhook URL is an http(s) URL"
    if parts.username or parts.password:
        return "a webhook URL carries no user name or password"
    for entry in allowed:
        plain = entry.startswith("http://")
        pattern = entry.removeprefix("http://").lower()
        if _host_matches(host, pattern) and (parts.scheme == "https" or plain):
            return None
    return f"webhooks may only go to https on: {', '.join(allowed)}"


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True, slots=True)
class Answer:
    ok: bool
    permanent: bool = False  # retrying cannot help (bad URL, refused payload)
    error: str = ""


def read_answer(channel: str, status: int, body: bytes) -> Answer:
    """Interpret the provider's HTTP answer. DingTalk, WeCom and Feishu answer 200 with an
    error code in the body, so the body is read too."""
    if status == 429 or status == 408 or status >= 500:
        return Answer(False, False, f"HTTP {status}")
    if not 200 <= status < 300:
        return Answer(False, True, f"HTTP {status}: {body[:200].decode(errors='replace')}")
    code = _app_code(channel, body)
    if code in (None, 0):
        return Answer(True)
    permanent = code not in _RATE_LIMITED.get(channel, set())
    return Answer(False, permanent, f"{channel} error code {code}")


def _app_code(channel: str, body: bytes) -> int | None:
    if channel not in _RATE_LIMITED or not body:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, Mapping):
        return None
    for name in ("errcode", "code", "StatusCode"):
        value = answer.get(name)
        if isinstance(value, int):
            return value
    return None
