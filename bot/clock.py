"""The one clock of roundup.

Every decision that depends on time takes `now` as an argument; the only places
that read the wall clock are the callers at the edges (CLI, web, scheduler), and
they read it through a `Clock` so tests can fix or advance time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, UTC-aware."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and replays: returns `at` until advanced."""

    at: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta


def ensure_utc(value: datetime) -> datetime:
    """Return `value` as a UTC-aware datetime; a naive value is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Test support: ROUNDUP_TEST_NOW makes a process's clock start at that instant and
# run at real speed, so tests of real `roundup run` processes can start them "just
# after" a scheduled time. Unset (always, outside tests), the wall clock is used.
TEST_NOW_ENV = "ROUNDUP_TEST_NOW"


@dataclass
class OffsetClock:
    """The wall clock shifted by a fixed offset."""

    offset: timedelta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def clock_from_env(env: dict[str, str] | None = None) -> Clock:
    """The wall clock, or the test clock `ROUNDUP_TEST_NOW` names (see above)."""
    import os

    value = (env if env is not None else os.environ).get(TEST_NOW_ENV, "").strip()
    if not value:
        return SystemClock()
    try:
        start = ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        from bot.errors import ConfigError

        raise ConfigError(f"{TEST_NOW_ENV}={value!r} is not an ISO date-time") from None
    return OffsetClock(start - datetime.now(UTC))
