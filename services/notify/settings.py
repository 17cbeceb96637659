"""The notify service's own settings (``ONRAMP_*``) and the dependencies its handlers receive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notify.channels import Channel
from services.notify.channels.email import EmailChannel, SmtpConfig
from services.notify.channels.webhook import WebhookChannel
from services.notify.domain import webhooks
from services.notify.domain.delivery import RetryPolicy
from services.notify.rendering import Renderer


class NotifySettings(BaseSettings):
    """Documented one by one in docs/notify.md."""

    model_config = SettingsConfigDict(env_prefix="ONRAMP_", extra="ignore")

    # Email. Without a host, email is off and only the inbox and chat webhooks are used.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Onramp <onramp@localhost>"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    smtp_connections: int = Field(default=4, ge=1, le=64)

    # Chat webhooks.
    webhook_allowed_hosts: list[str] = list(webhooks.PROVIDER_HOSTS)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)

    # External delivery.
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    delivery_backoff_initial_s: float = Field(default=30.0, gt=0)
    delivery_backoff_max_s: float = Field(default=1800.0, gt=0)
    delivery_batch_size: int = Field(default=100, ge=1, le=5000)
    delivery_shards: int = Field(default=4, ge=1, le=64)

    # Training reminders and stalled stages.
    reminder_offsets: list[timedelta] = [timedelta(days=1), timedelta(days=3), timedelta(days=7)]
    reminder_max_count: int = Field(default=3, ge=0, le=20)
    stall_deadline: timedelta = timedelta(days=3)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.delivery_max_attempts,
            timedelta(seconds=self.delivery_backoff_initial_s),
            timedelta(seconds=self.delivery_backoff_max_s),
        )

    def smtp(self) -> SmtpConfig | None:
        if not self.smtp_host:
            return None
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_from,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            timeout_s=self.smtp_timeout_s,
            concurrency=self.smtp_connections,
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """Everything a handler needs besides its connection; built once per process."""

    settings: NotifySettings
    renderer: Renderer
    email: Channel | None
    chat: Channel
    clock: Callable[[], datetime] = utc_now

    @property
    def email_enabled(self) -> bool:
        return self.email is not None


def build_deps(settings: NotifySettings, clock: Callable[[], datetime] = utc_now) -> Deps:
    smtp = settings.smtp()
    return Deps(
        settings=settings,
        renderer=Renderer(),
        email=EmailChannel(smtp) if smtp else None,
        chat=WebhookChannel(
            settings.webhook_allowed_hosts,
            timeout_s=settings.webhook_timeout_s,
            concurrency=settings.webhook_concurrency,
        ),
        clock=clock,
    )


@cache
def process_deps() -> Deps:
    """The process's dependencies, from the environment (the API reads them through this)."""
    return build_deps(NotifySettings())
