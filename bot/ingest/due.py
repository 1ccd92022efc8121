"""When a feed is polled next: the due test and the backoff after failures.

What it does: pure decisions over a `FeedState` and the `now` the caller passes in.
A feed is due when it has no `next_due` yet or that moment has come. After a
success the next poll is one interval away; after the n-th failure in a row it is
``backoff_base * 2**(n-1)`` away, never more than ``backoff_max``; a server that
said when to come back (``Retry-After`` on a 429 or 503) is not asked sooner, but
not later than ``backoff_max`` either: its header does not decide our schedule.
What it does not do: read the clock, fetch, or save anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from bot.clock import ensure_utc
from bot.types import FeedState

# 2**62 seconds of backoff already exceeds any datetime; stopping the exponent here
# keeps the arithmetic in range whatever the failure count says.
_MAX_EXPONENT = 62


def is_due(state: FeedState, now: datetime) -> bool:
    """True when the feed should be polled at `now`."""
    return state.next_due is None or ensure_utc(state.next_due) <= ensure_utc(now)


def backoff_delay(failures: int, base: timedelta, cap: timedelta) -> timedelta:
    """How long to wait after `failures` failures in a row (at least one is assumed)."""
    exponent = min(max(failures, 1) - 1, _MAX_EXPONENT)
    seconds = base.total_seconds() * (2**exponent)
    return cap if seconds >= cap.total_seconds() else timedelta(seconds=seconds)


def retry_after_delay(value: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), never
    negative; None when there is none or it cannot be read."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        # Beyond any sane wait; also keeps timedelta in range for absurd inputs.
        return timedelta(seconds=min(int(text[:12]), 10**9))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(ensure_utc(when) - ensure_utc(now), timedelta(0))


def next_due(
    state: FeedState,
    now: datetime,
    *,
    ok: bool,
    interval: timedelta,
    backoff_base: timedelta,
    backoff_max: timedelta,
    retry_after: timedelta | None = None,
) -> datetime:
    """When to poll next; `state` is the state after the attempt (failures counted)."""
    now = ensure_utc(now)
    if ok:
        return now + interval
    delay = backoff_delay(state.consecutive_failures, backoff_base, backoff_max)
    if retry_after is not None:
        delay = max(delay, min(retry_after, backoff_max))
    return now + delay
