"""What one poll of one feed produced, and the feed state to save after it.

What it does: `FeedOutcome` is the result the pipeline stores; `succeeded` and
`failed` are the pure state transitions. A success (new body or not modified)
clears the failure count and schedules the next poll one interval away; a failure
counts one more, keeps the validators and body hash of the last good fetch, and
backs off (`due.next_due`). A permanent redirect moves the feed's URL only when
the poll succeeded: a redirect to a broken place must not lose the working URL; nor
to a URL that `urls.clean_url` refuses (the old URL is kept, and a warning says why).
What it does not do: fetch, parse, or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.ingest.due import next_due, retry_after_delay
from bot.ingest.urls import UrlDropped, clean_url, dropped
from bot.types import Classification, FeedState, FetchStatus, Item

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class FeedOutcome:
    name: str
    status: FetchStatus
    state: FeedState  # the new state to save
    items: tuple[Item, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()
    http_status: int | None = None
    # The items' classifications, one each, when the parse workers classified them.
    classifications: tuple[Classification, ...] | None = None


@dataclass(frozen=True)
class Timing:
    """How far away the next poll is: the feed's interval, and the backoff."""

    interval: timedelta
    backoff_base: timedelta
    backoff_max: timedelta


@dataclass(frozen=True)
class Fetched:
    """What a successful poll learnt about the feed."""

    status: FetchStatus  # FETCHED or NOT_MODIFIED
    url: str  # the URL to poll next time
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    http_status: int | None = None
    title: str | None = None
    items: tuple[Item, ...] = ()
    warnings: tuple[str, ...] = ()
    classifications: tuple[Classification, ...] | None = None


def _moved_to(state: FeedState, fetched: Fetched) -> tuple[str, tuple[str, ...]]:
    """The URL to poll next time, and the warnings of the poll with why it did not move."""
    if fetched.url == state.url:
        return state.url, fetched.warnings
    try:
        return clean_url(fetched.url), fetched.warnings
    except UrlDropped as exc:
        return state.url, (*fetched.warnings, dropped("permanent redirect", fetched.url, exc))


def succeeded(state: FeedState, now: datetime, timing: Timing, fetched: Fetched) -> FeedOutcome:
    url, warnings = _moved_to(state, fetched)
    after = replace(
        state,
        url=url,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        body_hash=fetched.body_hash,
        last_attempt=now,
        last_success=now,
        consecutive_failures=0,
        last_error=None,
        title=fetched.title or state.title,
    )
    after = replace(after, next_due=_next(after, now, timing, ok=True))
    return FeedOutcome(
        name=state.name,
        status=fetched.status,
        state=after,
        items=fetched.items,
        warnings=warnings,
        http_status=fetched.http_status,
        classifications=fetched.classifications,
    )


def failed(
    state: FeedState,
    now: datetime,
    timing: Timing,
    error: str,
    *,
    http_status: int | None = None,
    retry_after: str | None = None,
    warnings: tuple[str, ...] = (),
) -> FeedOutcome:
    error = " ".join(error.split())[:MAX_ERROR_CHARS]
    wait = retry_after_delay(retry_after, now) if http_status in (429, 503) else None
    after = replace(
        state,
        last_attempt=now,
        consecutive_failures=state.consecutive_failures + 1,
        last_error=error,
    )
    after = replace(after, next_due=_next(after, now, timing, ok=False, retry_after=wait))
    return FeedOutcome(
        name=state.name,
        status=FetchStatus.FAILED,
        state=after,
        error=error,
        warnings=warnings,
        http_status=http_status,
    )


def _next(
    state: FeedState,
    now: datetime,
    timing: Timing,
    *,
    ok: bool,
    retry_after: timedelta | None = None,
) -> datetime:
    return next_due(
        state,
        now,
        ok=ok,
        interval=timing.interval,
        backoff_base=timing.backoff_base,
        backoff_max=timing.backoff_max,
        retry_after=retry_after,
    )
