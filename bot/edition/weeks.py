"""Edition keys and time windows: pure functions of `now`, a timezone and data.

An edition is keyed by the ISO week (``2026-W48``) in the newsletter's timezone, so
a story published late on Sunday evening in New York belongs to that week even
though it is already Monday in UTC. This module turns instants into keys and keys
into UTC bounds, and computes the window of stories a draft takes. It does not
read the store or the clock: callers pass `now`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import ensure_utc
from bot.errors import UsageError

FIRST_EDITION_SPAN = timedelta(days=7)
_KEY = re.compile(r"^(\d{4})-W(\d{2})$")


def zone(tz: str | tzinfo) -> tzinfo:
    """The timezone named by `tz` (an IANA name) or `tz` itself."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {tz!r} (use an IANA name such as UTC)") from None


def week_key(now: datetime, tz: str | tzinfo) -> str:
    """The key of the edition whose week contains `now`, in timezone `tz`."""
    local = ensure_utc(now).astimezone(zone(tz))
    year, week, _ = local.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse_week(key: str) -> tuple[int, int]:
    """``"2026-W48"`` -> ``(2026, 48)``; a UsageError says what a key looks like."""
    match = _KEY.match(key.strip().upper()) if isinstance(key, str) else None
    if match is None:
        raise UsageError(
            f"bad edition key {key!r}: expected an ISO week such as 2026-W48 "
            "(four-digit year, '-W', two-digit week 01-53)"
        )
    year, week = int(match.group(1)), int(match.group(2))
    if year < 1:
        raise UsageError(f"bad edition key {key!r}: the year must be 0001 or later")
    weeks = weeks_in_year(year)
    if not 1 <= week <= weeks:
        raise UsageError(f"bad edition key {key!r}: {year} has ISO weeks 01 to {weeks}")
    return year, week


def normalise_key(key: str) -> str:
    """The canonical spelling of a valid key (``2026-w48`` -> ``2026-W48``)."""
    year, week = parse_week(key)
    return f"{year:04d}-W{week:02d}"


def weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always lies in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar()[1]


def week_bounds(key: str, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """UTC instants of Monday 00:00 of the week and of the next Monday, local time."""
    year, week = parse_week(key)
    zone_ = zone(tz)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time(0), tzinfo=zone_)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone_)
    return start.astimezone(UTC), end.astimezone(UTC)


def edition_window(
    now: datetime, last_sent: datetime | None, tz: str | tzinfo
) -> tuple[datetime, datetime]:
    """The (start, end) of the stories a draft takes, both UTC.

    It starts at the previous sent edition's cut-off (`last_sent`, its window_end)
    or, for the first edition, seven calendar days before `now` in `tz` (so a DST
    change inside the week neither gains nor loses an hour); it ends at `now`. A
    cut-off later than `now` (a clock set back) gives an empty window, never a
    reversed one.
    """
    end = ensure_utc(now)
    if last_sent is not None:
        return min(ensure_utc(last_sent), end), end
    local = end.astimezone(zone(tz))
    # Arithmetic on an aware local datetime is wall-clock arithmetic in Python.
    start = local - FIRST_EDITION_SPAN
    return min(start.astimezone(UTC), end), end
