"""Email over SMTP with the standard library: one connection per worker and batch.

A batch is split over up to ``concurrency`` connections; each sends its share in turn. Replies
in the 5xx range are permanent (a refused mailbox stays refused); everything else, a dropped
connection included, is worth another try. Every attempt of one delivery carries the same
``Message-ID``, so a mail server or client can drop a repeat.
"""

from __future__ import annotations

import asyncio
import functools
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.notify.channels import Message, Result, in_daemon_thread


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    concurrency: int = 4


def compose(message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.message_id}@onramp>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    mail.set_content(message.body)
    mail["Content-Language"] = message.locale  # after set_content, which resets Content-*
    return mail


class EmailChannel:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, messages: Sequence[Message]) -> list[Result]:
        if not messages:
            return []
        ways = max(1, min(self._config.concurrency, len(messages)))
        groups = [list(messages[i::ways]) for i in range(ways)]
        answers = await asyncio.gather(
            *(in_daemon_thread(functools.partial(self._send_group, group)) for group in groups)
        )
        return [result for answer in answers for result in answer]

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password or "")
        return smtp

    def _send_group(self, group: list[Message]) -> list[Result]:
        results: list[Result] = []
        try:
            with self._connect() as smtp:
                for message in group:
                    results.append(self._send_one(smtp, message))
        except (smtplib.SMTPException, OSError) as exc:
            # Could not connect or log in, or the connection broke mid-way: what was not tried
            # yet waits for a retry (a wrong password is fixed by an operator, not by giving up).
            error = _describe(exc)
            results += [Result(m.key, False, False, error) for m in group[len(results) :]]
        return results

    def _send_one(self, smtp: smtplib.SMTP, message: Message) -> Result:
        try:
            mail = compose(message, self._config.sender)
        except ValueError as exc:  # an address or text no mail header can carry
            return Result(message.key, False, True, f"cannot compose: {exc}")
        try:
            smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Result(message.key, False, all(c >= 500 for c in codes), _describe(exc))
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            return Result(message.key, False, exc.smtp_code >= 500, _describe(exc))
        return Result(message.key, True)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
