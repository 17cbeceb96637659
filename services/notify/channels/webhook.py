"""Chat webhooks (Slack, Teams, DingTalk, WeCom, Feishu): a JSON POST to the person's URL.

apprise hard-codes each provider's host (hooks.slack.com, oapi.dingtalk.com, ...), so it can
reach neither a company's proxy nor a local test receiver; the five message formats are small
and stable, so they live in ``domain.webhooks`` and this module only posts them. Redirects are
not followed (a webhook that redirects is misconfigured, and following it could reach hosts
outside the allow-list).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from services.notify.channels import Message, Result, in_daemon_thread
from services.notify.domain import webhooks


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


class WebhookChannel:
    def __init__(self, allowed_hosts: Sequence[str], *, timeout_s: float, concurrency: int) -> None:
        self._allowed = tuple(allowed_hosts)
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency)

    async def send(self, messages: Sequence[Message]) -> list[Result]:
        return list(await asyncio.gather(*(self._send(m) for m in messages)))

    async def _send(self, message: Message) -> Result:
        problem = webhooks.url_problem(message.address, self._allowed)
        if problem is not None:
            return Result(message.key, False, True, problem)
        body = webhooks.payload(message.channel, message.subject, message.body)
        async with self._slots:
            return await in_daemon_thread(lambda: self._post(message, body))

    def _post(self, message: Message, body: dict[str, Any]) -> Result:
        request = urllib.request.Request(
            message.address,
            data=json.dumps(body, ensure_ascii=False).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "onramp-notify/1.0",
                "Idempotency-Key": message.message_id,
            },
        )
        try:
            with _OPENER.open(request, timeout=self._timeout_s) as response:
                status, answer = response.status, response.read(8192)
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read(8192)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            return Result(message.key, False, False, f"{type(exc).__name__}: {exc}"[:500])
        verdict = webhooks.read_answer(message.channel, status, answer)
        return Result(message.key, verdict.ok, verdict.permanent, verdict.error)
