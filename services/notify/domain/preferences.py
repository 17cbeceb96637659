"""A person's channels, quiet hours and daily digest, in their own time zone.

Quiet hours hold external messages (email, chat) until the window ends; the in-app inbox is never
held. Low-priority messages wait for the daily digest when the person asked for one. Urgent
messages (escalations) bypass both.

A local time that happens twice (clocks go back) means its first occurrence; a local time that
does not exist (clocks go forward) means the moment the clocks jump past it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.notify.domain.notifications import Priority

ExternalChannel = Literal["email", "slack", "teams", "dingtalk", "wecom", "feishu"]
CHAT_CHANNELS: tuple[ExternalChannel, ...] = ("slack", "teams", "dingtalk", "wecom", "feishu")
EXTERNAL_CHANNELS: tuple[ExternalChannel, ...] = ("email", *CHAT_CHANNELS)


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time  # local wall time; the window may cross midnight (22:00 → 07:00)
    end: time


@dataclass(frozen=True, slots=True)
class Preferences:
    channels: frozenset[ExternalChannel] = frozenset({"email"})
    webhooks: Mapping[str, str] = field(default_factory=dict)  # chat channel → webhook URL
    quiet_hours: QuietHours | None = None
    digest: bool = False
    digest_at: time = time(8, 0)
    timezone: str | None = None  # overrides the directory's time zone
    locale: str | None = None  # overrides the directory's locale


DEFAULT = Preferences()


@dataclass(frozen=True, slots=True)
class Profile:
    """What the directory knows about a recipient (all None for someone it does not know)."""

    email: str | None = None
    timezone: str | None = None
    locale: str | None = None
    name: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class Planned:
    channel: ExternalChannel
    address: str
    due_at: datetime | None  # None: waits for the digest


@lru_cache(maxsize=1024)
def zone(name: str | None) -> tzinfo:
    """The IANA zone ``name``; UTC for None or a name the system does not know."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _at(day: datetime, wall: time, tz: tzinfo) -> datetime:
    """The first instant the local clock in ``tz`` reads ``wall`` or later on ``day``'s date."""
    local = datetime.combine(day.date(), wall, tzinfo=tz)
    first = local.astimezone(UTC)  # fold=0: the first of two, when clocks go back
    if _wall(first, tz) == local.replace(tzinfo=None):
        return first
    # ``wall`` falls in the hour clocks skip: the answer is the moment they jump. fold=1 reads
    # it with the offset after the jump, which lands before the gap; search between the two.
    low, high = local.replace(fold=1).astimezone(UTC), first
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, tz) >= local.replace(tzinfo=None):
            high = middle
        else:
            low = middle
    return high


def is_quiet(now: datetime, tz: tzinfo, quiet: QuietHours | None) -> bool:
    if quiet is None or quiet.start == quiet.end:
        return False
    wall = now.astimezone(tz).time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        return quiet.start <= wall < quiet.end
    return wall >= quiet.start or wall < quiet.end


def quiet_until(now: datetime, tz: tzinfo, quiet: QuietHours | None) -> datetime | None:
    """When the window ``now`` falls in ends; None when ``now`` is not quiet."""
    if quiet is None or not is_quiet(now, tz, quiet):
        return None
    local = now.astimezone(tz)
    for days in (0, 1, 2):  # today's end, or tomorrow's for a window crossing midnight
        end = _at(local + timedelta(days=days), quiet.end, tz)
        if end > now and not is_quiet(end, tz, quiet):
            return end
    raise AssertionError("a quiet window ends within two days")  # pragma: no cover


def release_at(now: datetime, tz: tzinfo, quiet: QuietHours | None) -> datetime:
    """``now``, or the end of the quiet window ``now`` falls in."""
    return quiet_until(now, tz, quiet) or now


def next_digest(now: datetime, tz: tzinfo, prefs: Preferences) -> datetime:
    """The next digest time after ``now``, moved out of quiet hours."""
    local = now.astimezone(tz)
    for days in (0, 1, 2):
        candidate = _at(local + timedelta(days=days), prefs.digest_at, tz)
        if candidate > now:
            return release_at(candidate, tz, prefs.quiet_hours)
    raise AssertionError("a digest time comes within two days")  # pragma: no cover


def plan(
    prefs: Preferences,
    profile: Profile,
    priority: Priority,
    now: datetime,
    *,
    email_enabled: bool,
) -> list[Planned]:
    """The external deliveries of one notification: which channels, to where, and when."""
    tz = zone(prefs.timezone or profile.timezone)
    if priority == "urgent":
        due: datetime | None = now
    elif priority == "low" and prefs.digest:
        due = None
    else:
        due = release_at(now, tz, prefs.quiet_hours)
    planned: list[Planned] = []
    for channel in EXTERNAL_CHANNELS:
        if channel not in prefs.channels:
            continue
        address = profile.email if channel == "email" else prefs.webhooks.get(channel)
        if address and (channel != "email" or email_enabled):
            planned.append(Planned(channel, address, due))
    return planned


def hold_until(
    now: datetime, prefs: Preferences, profile: Profile, priority: Priority
) -> datetime | None:
    """Checked again just before sending (a retry may fall into quiet hours, or the person may
    have set quiet hours since): when to send instead, or None to send now."""
    if priority == "urgent":
        return None
    return quiet_until(now, zone(prefs.timezone or profile.timezone), prefs.quiet_hours)
