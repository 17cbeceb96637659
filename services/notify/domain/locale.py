"""Which template language a recipient gets, from their BCP 47 locale tag."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_LOCALE = "en"


def pick(tag: str | None, available: Sequence[str]) -> str:
    """The best available language for ``tag``: the exact tag, then the same language (any
    Chinese tag gets the Chinese templates we have), then ``en``.

    >>> pick("zh-Hans-CN", ["en", "zh-CN"])
    'zh-CN'
    """
    if not tag:
        return DEFAULT_LOCALE
    wanted = tag.replace("_", "-").strip().lower()
    by_lower = {name.lower(): name for name in available}
    if wanted in by_lower:
        return by_lower[wanted]
    language = wanted.split("-", 1)[0]
    for name in available:  # available is ordered by preference
        if name.lower().split("-", 1)[0] == language:
            return name
    return DEFAULT_LOCALE
