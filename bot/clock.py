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
