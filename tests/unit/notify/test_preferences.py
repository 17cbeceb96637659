"""Quiet hours and digests in people's own time zones, across daylight-saving changes; which
channels a notification goes to, and when."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.domain import preferences
from services.notify.domain.notifications import Priority
from services.notify.domain.preferences import (
    Planned,
    Preferences,
    Profile,
    QuietHours,
    hold_until,
    is_quiet,
    next_digest,
    plan,
    quiet_until,
    release_at,
    zone,
)

NIGHT = QuietHours(time(22, 0), time(7, 0))
LUNCH = QuietHours(time(13, 0), time(14, 0))
EARLY = QuietHours(time(0, 0), time(2, 30))  # ends inside the hour clocks skip or repeat


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "quiet", "now", "until"),
    [
        ("Europe/Berlin", NIGHT, utc(2025, 6, 10, 21, 30), utc(2025, 6, 11, 5, 0)),
        ("Europe/Berlin", NIGHT, utc(2025, 6, 11, 4, 0), utc(2025, 6, 11, 5, 0)),
        ("Europe/Berlin", NIGHT, utc(2025, 6, 11, 5, 0), None),  # 07:00 sharp: the end is open
        ("Europe/Berlin", NIGHT, utc(2025, 6, 10, 20, 0), utc(2025, 6, 11, 5, 0)),  # 22:00 sharp
        ("Europe/Berlin", NIGHT, utc(2025, 6, 10, 19, 59), None),
        ("Asia/Shanghai", NIGHT, utc(2025, 6, 10, 15, 0), utc(2025, 6, 10, 23, 0)),
        ("America/New_York", NIGHT, utc(2025, 6, 10, 3, 0), utc(2025, 6, 10, 11, 0)),
        ("UTC", LUNCH, utc(2025, 6, 10, 13, 30), utc(2025, 6, 10, 14, 0)),
        ("UTC", LUNCH, utc(2025, 6, 10, 12, 59), None),
        # Berlin, clocks go forward at 02:00 on 30 March: the night is an hour shorter.
        ("Europe/Berlin", NIGHT, utc(2025, 3, 29, 22, 0), utc(2025, 3, 30, 5, 0)),
        # Berlin, clocks go back at 03:00 on 26 October: the night is an hour longer.
        ("Europe/Berlin", NIGHT, utc(2025, 10, 25, 21, 0), utc(2025, 10, 26, 6, 0)),
        # The window ends at 02:30, which does not exist on 30 March: released the moment the
        # clocks jump from 02:00 CET to 03:00 CEST.
        ("Europe/Berlin", EARLY, utc(2025, 3, 29, 23, 30), utc(2025, 3, 30, 1, 0)),
        # 02:30 happens twice on 26 October: the first time ends the window.
        ("Europe/Berlin", EARLY, utc(2025, 10, 25, 22, 30), utc(2025, 10, 26, 0, 30)),
        # New York springs forward on 9 March, Sydney on 5 October (southern hemisphere).
        ("America/New_York", NIGHT, utc(2025, 3, 9, 3, 0), utc(2025, 3, 9, 11, 0)),
        ("Australia/Sydney", NIGHT, utc(2025, 10, 4, 12, 0), utc(2025, 10, 4, 20, 0)),
    ],
)
def test_quiet_until(tz: str, quiet: QuietHours, now: datetime, until: datetime | None) -> None:
    assert quiet_until(now, ZoneInfo(tz), quiet) == until
    assert is_quiet(now, ZoneInfo(tz), quiet) is (until is not None)
    assert release_at(now, ZoneInfo(tz), quiet) == (until or now)


def test_no_quiet_hours_never_hold() -> None:
    assert quiet_until(utc(2025, 1, 1, 3), UTC, None) is None
    assert not is_quiet(utc(2025, 1, 1, 3), UTC, QuietHours(time(3), time(3)))


@pytest.mark.parametrize(
    ("tz", "digest_at", "quiet", "now", "due"),
    [
        ("Europe/Berlin", time(8), None, utc(2025, 6, 10, 7, 0), utc(2025, 6, 11, 6, 0)),
        ("Europe/Berlin", time(8), None, utc(2025, 6, 10, 5, 0), utc(2025, 6, 10, 6, 0)),
        ("Asia/Shanghai", time(9), None, utc(2025, 6, 10, 0, 30), utc(2025, 6, 10, 1, 0)),
        # A digest time inside quiet hours moves to the end of the window.
        ("UTC", time(6), NIGHT, utc(2025, 6, 10, 12, 0), utc(2025, 6, 11, 7, 0)),
        # Across the spring-forward night the local time is kept, not the interval.
        ("Europe/Berlin", time(8), None, utc(2025, 3, 29, 8, 0), utc(2025, 3, 30, 6, 0)),
    ],
)
def test_next_digest(
    tz: str, digest_at: time, quiet: QuietHours | None, now: datetime, due: datetime
) -> None:
    prefs = Preferences(digest=True, digest_at=digest_at, quiet_hours=quiet)
    assert next_digest(now, ZoneInfo(tz), prefs) == due


NOW = utc(2025, 6, 10, 23, 0)  # inside NIGHT in UTC
ADA = Profile(email="ada@example.com", timezone="UTC")
SLACK = "https://hooks.slack.com/services/T/B/X"


@pytest.mark.parametrize(
    ("prefs", "profile", "priority", "email_on", "expected"),
    [
        (Preferences(), ADA, "normal", True, [Planned("email", ADA.email or "", NOW)]),
        (Preferences(), ADA, "normal", False, []),  # no SMTP server configured
        (Preferences(), Profile(), "normal", True, []),  # nobody knows their address
        (Preferences(channels=frozenset()), ADA, "high", True, []),
        (
            Preferences(quiet_hours=NIGHT),
            ADA,
            "normal",
            True,
            [Planned("email", "ada@example.com", utc(2025, 6, 11, 7))],
        ),
        (
            Preferences(quiet_hours=NIGHT),
            ADA,
            "urgent",
            True,
            [Planned("email", "ada@example.com", NOW)],  # escalations bypass quiet hours
        ),
        (
            Preferences(digest=True),
            ADA,
            "low",
            True,
            [Planned("email", "ada@example.com", None)],  # waits for the digest
        ),
        (Preferences(digest=True), ADA, "normal", True, [Planned("email", "ada@example.com", NOW)]),
        (
            Preferences(channels=frozenset({"slack", "teams"}), webhooks={"slack": SLACK}),
            ADA,
            "high",
            True,
            [Planned("slack", SLACK, NOW)],  # teams is on but has no URL
        ),
        (
            Preferences(quiet_hours=NIGHT, timezone="Asia/Shanghai"),
            ADA,
            "normal",
            True,
            [Planned("email", "ada@example.com", NOW)],  # 07:00 in Shanghai: not quiet there
        ),
    ],
)
def test_plan(
    prefs: Preferences,
    profile: Profile,
    priority: Priority,
    email_on: bool,
    expected: list[Planned],
) -> None:
    assert plan(prefs, profile, priority, NOW, email_enabled=email_on) == expected


@pytest.mark.parametrize(
    ("priority", "held"), [("low", True), ("normal", True), ("high", True), ("urgent", False)]
)
def test_hold_until_rechecks_quiet_hours_before_sending(priority: Priority, held: bool) -> None:
    until = hold_until(NOW, Preferences(quiet_hours=NIGHT), ADA, priority)
    assert until == (utc(2025, 6, 11, 7) if held else None)


@pytest.mark.parametrize("name", [None, "", "Not/AZone", "../../etc/passwd"])
def test_unknown_time_zones_fall_back_to_utc(name: str | None) -> None:
    assert zone(name) is UTC
    if name:
        assert not preferences.is_valid_zone(name)


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
]
_quarter_hours = st.integers(0, 95).map(lambda q: time(q // 4, (q % 4) * 15))
_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


def check_release(tz: str, start: time, end: time, now: datetime) -> None:
    """Released at once when not quiet, else at the first moment out of the window."""
    quiet = QuietHours(start, end)
    zone_info = ZoneInfo(tz)
    release = release_at(now, zone_info, quiet)
    assert release >= now
    assert not is_quiet(release, zone_info, quiet)
    assert release - now <= timedelta(hours=26)
    if not is_quiet(now, zone_info, quiet):
        assert release == now
    else:  # still quiet just before the release: no earlier way out was skipped
        assert is_quiet(release - timedelta(microseconds=1), zone_info, quiet)


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(tz=st.sampled_from(ZONES), start=_quarter_hours, end=_quarter_hours, now=_instants)
def test_release_is_the_first_moment_out_of_quiet_hours(
    tz: str, start: time, end: time, now: datetime
) -> None:
    check_release(tz, start, end, now)


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(tz=st.sampled_from(ZONES), at=_quarter_hours, now=_instants)
def test_next_digest_is_within_a_day_and_after_now(tz: str, at: time, now: datetime) -> None:
    due = next_digest(now, ZoneInfo(tz), Preferences(digest=True, digest_at=at))
    assert now < due <= now + timedelta(hours=25)


_TRANSITIONS = [  # the UTC instants clocks change in the zones above, 2025
    utc(2025, 3, 30, 1),
    utc(2025, 10, 26, 1),  # Europe
    utc(2025, 3, 9, 7),
    utc(2025, 11, 2, 6),  # New York
    utc(2025, 4, 5, 16),
    utc(2025, 10, 4, 16),  # Sydney
    utc(2025, 3, 9, 5, 30),
    utc(2025, 11, 2, 4, 30),  # St John's
    utc(2025, 4, 5, 14),
    utc(2025, 9, 27, 14),  # Chatham
]
_near_transitions = st.builds(
    lambda at, minutes: at + timedelta(minutes=minutes),
    st.sampled_from(_TRANSITIONS),
    st.integers(-26 * 60, 26 * 60),
)


@settings(deadline=None)  # no timing assertions on a loaded machine
@given(tz=st.sampled_from(ZONES), start=_quarter_hours, end=_quarter_hours, now=_near_transitions)
def test_release_near_daylight_saving_changes(
    tz: str, start: time, end: time, now: datetime
) -> None:
    check_release(tz, start, end, now)
