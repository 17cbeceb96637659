"""Choosing a template language for a recipient's locale."""

from __future__ import annotations

import pytest

from services.notify.domain.locale import pick

AVAILABLE = ["en", "zh-CN"]


@pytest.mark.parametrize(
    ("tag", "chosen"),
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("EN_us", "en"),
        ("zh-CN", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-SG", "zh-CN"),
        ("zh-TW", "zh-CN"),  # no Traditional Chinese templates yet: Chinese beats English
        ("de-DE", "en"),
        ("x", "en"),
    ],
)
def test_pick(tag: str | None, chosen: str) -> None:
    assert pick(tag, AVAILABLE) == chosen
