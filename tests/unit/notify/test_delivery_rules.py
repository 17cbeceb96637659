"""External delivery: retry with backoff and a last try; shards; email composition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.channels import Message
from services.notify.channels.email import compose
from services.notify.domain.delivery import RetryPolicy, shard_of

POLICY = RetryPolicy(max_attempts=5, initial=timedelta(seconds=30), cap=timedelta(minutes=5))


@pytest.mark.parametrize(
    ("attempts", "permanent", "wait"),
    [
        (1, False, timedelta(seconds=30)),
        (2, False, timedelta(seconds=60)),
        (3, False, timedelta(seconds=120)),
        (4, False, timedelta(seconds=240)),
        (5, False, None),  # the last try failed: give up (notification.failed)
        (1, True, None),  # retrying cannot help
        (9, False, None),
    ],
)
def test_backoff(attempts: int, permanent: bool, wait: timedelta | None) -> None:
    assert POLICY.after_failure(attempts, permanent=permanent) == wait


def test_backoff_is_capped_and_never_overflows() -> None:
    long = RetryPolicy(max_attempts=1000, initial=timedelta(seconds=30), cap=timedelta(hours=1))
    assert long.after_failure(999, permanent=False) == timedelta(hours=1)


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(recipient=st.text(min_size=1, max_size=40), shards=st.integers(1, 64))
def test_shards_are_stable_and_in_range(recipient: str, shards: int) -> None:
    shard = shard_of(recipient, shards)
    assert 0 <= shard < shards
    assert shard == shard_of(recipient, shards)


def test_email_headers() -> None:
    message = Message(
        7, "email", "ada@example.com", "主题 Subject", "正文", "zh-CN", "onramp-delivery-7"
    )
    mail = compose(message, "Onramp <onramp@example.com>")
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "主题 Subject"
    assert mail["Message-ID"] == "<onramp-delivery-7@onramp>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "zh-CN"
    assert mail.get_content().strip() == "正文"


def test_a_header_injection_cannot_be_composed() -> None:
    message = Message(7, "email", "a@example.com\r\nBcc: x@evil.example", "s", "b", "en", "m")
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        compose(message, "Onramp <onramp@example.com>")
