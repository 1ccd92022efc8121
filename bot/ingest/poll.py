"""Poll many feeds at once: fetch, skip unchanged bodies, parse, report each feed.

What it does: `poll_feeds` runs the whole poll on the event loop, at most
`concurrency` feeds at a time and at most `per_host` of them on one host name (a
host waiting for its turn holds none of the global slots), each under the per-feed
deadline (`total_timeout`, on top of the connect and read timeouts). A 304, or a
body whose sha256 equals the last good one, is NOT_MODIFIED and nothing is parsed.
At most `bodies_in_flight` bodies are read or wait to be parsed at once, whatever
`concurrency` is: their memory is bounded by that times the body cap.
All feeds share one aiohttp session, whose pool keeps connections alive per host
(an unchanged feed costs no new handshake) and is sized to the same limits (at most
`concurrency` connections in use, `per_host` to one host); it reads bodies raw, and
`body` decompresses them under the cap. It honours HTTP(S)_PROXY and NO_PROXY
(`fetch.Proxies`, read once per poll).
Bodies are parsed and normalised in a pool of processes, one per core
(`workers.ParsePool`), so parsing uses every core and never stalls the downloads
of the other feeds. Every feed gets a `FeedOutcome`, whatever happens to it: one
failing feed never stops the others, and no exception escapes for a feed's sake.
What it does not do: decide which feeds are due (the caller filters with `is_due`;
every state passed in is polled), store anything, or read the clock (`now` is
given). The deadline bounds the network part (not the wait for a body slot);
parsing is bounded by the body cap.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot import __version__
from bot.clock import ensure_utc
from bot.errors import FetchError, ParseError
from bot.ingest.body import ACCEPT_ENCODING
from bot.ingest.fetch import FetchResult, HTTPStatusFailure, Proxies, fetch
from bot.ingest.http import aiohttp
from bot.ingest.outcome import FeedOutcome, Fetched, Timing, failed, succeeded
from bot.ingest.settings import FetchSettings
from bot.ingest.workers import Classify, ParsePool
from bot.types import FeedState, FetchStatus

log = logging.getLogger(__name__)

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
# A validator is echoed back to the server on every poll: a huge one is not kept.
MAX_VALIDATOR_CHARS = 1024


def default_user_agent(site_url: str | None = None) -> str:
    """``roundup/<version> (+<site url>)``: who is polling, and where to learn more."""
    agent = f"roundup/{__version__}"
    return f"{agent} (+{site_url})" if site_url else agent


def _session(settings: FetchSettings, user_agent: str) -> aiohttp.ClientSession:
    """The poll's one session: pool, timeouts and headers (TLS is `fetch`'s)."""
    connect = settings.connect_timeout.total_seconds()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            # Our own gates (`poll_feeds`) hold feeds back before they ask the pool,
            # so these bound only what a redirect to another host adds.
            limit=settings.concurrency,
            limit_per_host=settings.per_host,
        ),
        headers={
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        # `connect` bounds the wait for a pooled connection, DNS, TCP and TLS (as
        # httpx's connect and pool timeouts did); `sock_read` any silence while the
        # response comes; the per-feed deadline bounds the whole.
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=connect,
            sock_connect=connect,
            sock_read=settings.read_timeout.total_seconds(),
        ),
        auto_decompress=False,  # `body` inflates under the cap: see there
        trust_env=False,  # proxies: `fetch.Proxies`, read once per poll
        raise_for_status=False,
    )


def _validator(value: str | None) -> str | None:
    return value if value and len(value) <= MAX_VALIDATOR_CHARS else None


async def poll_feeds(
    states: Sequence[FeedState],
    settings: FetchSettings,
    now: datetime,
    *,
    intervals: Mapping[str, timedelta] | None = None,
    on_done: Callable[[FeedOutcome], None] | None = None,
    user_agent: str | None = None,
    keep_items: bool = True,
    classify: Classify | None = None,
) -> list[FeedOutcome]:
    """Poll every feed in `states`; one outcome per feed, in the order given.

    `intervals` gives a feed's own poll interval (else `settings.poll_interval`);
    `on_done` is called with each outcome as soon as that feed is done. With
    `keep_items=False` the outcomes returned carry no items (`on_done` has had
    them): a caller that stores each feed as it comes then holds no poll's worth
    of stories in memory. With `classify`, each feed's items are classified where
    they were parsed, in the parse workers (`FeedOutcome.classifications`).
    """
    if not states:
        return []
    now = ensure_utc(now)
    agent = user_agent or settings.user_agent or default_user_agent()
    gate = asyncio.Semaphore(settings.concurrency)
    bodies = asyncio.Semaphore(settings.bodies_in_flight)
    hosts: dict[str, asyncio.Semaphore] = {}
    parser = ParsePool(settings.parse_workers, settings.parser, classify)
    session = _session(settings, agent)
    proxies = Proxies.from_env()

    async def one(state: FeedState) -> FeedOutcome:
        interval = (intervals or {}).get(state.name, settings.poll_interval)
        timing = Timing(interval, settings.backoff_base, settings.backoff_max)
        name = _host(state.url)
        host = hosts.setdefault(name, asyncio.Semaphore(settings.per_host))
        async with host, gate:
            outcome = await poll_one(session, state, settings, now, timing, parser, bodies, proxies)
        if on_done is not None:
            on_done(outcome)
        if keep_items or not outcome.items:
            return outcome
        return replace(outcome, items=(), classifications=None)

    try:
        return list(await asyncio.gather(*(one(state) for state in states)))
    finally:
        parser.close()
        await session.close()


def _host(url: str) -> str:
    """The host name a feed is fetched from: what the per-host limit counts."""
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


async def poll_one(
    session: aiohttp.ClientSession,
    state: FeedState,
    settings: FetchSettings,
    now: datetime,
    timing: Timing,
    parser: ParsePool | None = None,
    bodies: asyncio.Semaphore | None = None,
    proxies: Proxies | None = None,
) -> FeedOutcome:
    """Poll one feed; never raises for the feed's sake. `bodies` bounds the bodies
    read or waiting to be parsed across the feeds that share it."""
    try:
        parser = parser or ParsePool(1)
        return await _poll(session, state, settings, now, timing, parser, bodies, proxies)
    except Exception as exc:  # a bug here must cost one feed, not the poll
        log.exception("polling feed %s failed unexpectedly", state.name)
        message = f"internal error while polling: {type(exc).__name__}: {exc}"
        return failed(state, now, timing, message)


async def _poll(
    session: aiohttp.ClientSession,
    state: FeedState,
    settings: FetchSettings,
    now: datetime,
    timing: Timing,
    parser: ParsePool,
    bodies: asyncio.Semaphore | None,
    proxies: Proxies | None,
) -> FeedOutcome:
    deadline = settings.total_timeout.total_seconds()
    try:
        async with asyncio.timeout(deadline) as budget:
            result = await fetch(
                session,
                state.url,
                etag=state.etag,
                last_modified=state.last_modified,
                max_redirects=settings.max_redirects,
                max_body_bytes=settings.max_body_bytes,
                body_gate=None if bodies is None else _Slot(bodies, budget),
                proxies=proxies,
            )
    except FetchError as exc:
        if isinstance(exc, HTTPStatusFailure):
            return failed(
                state,
                now,
                timing,
                str(exc),
                http_status=exc.status,
                retry_after=exc.retry_after,
            )
        return failed(state, now, timing, str(exc))
    except TimeoutError:
        host = urlsplit(state.url).netloc or state.url
        message = f"no complete response from {host} within {deadline:g}s (the per-feed deadline)"
        return failed(state, now, timing, message)
    try:
        return await _read(result, state, now, timing, parser)
    finally:
        if bodies is not None and result.holds_gate:
            bodies.release()  # parsed, or found unchanged: the body is let go


async def _read(
    result: FetchResult, state: FeedState, now: datetime, timing: Timing, parser: ParsePool
) -> FeedOutcome:
    if result.not_modified:
        return succeeded(state, now, timing, _unchanged(state, result, state.body_hash))
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == state.body_hash:
        return succeeded(state, now, timing, _unchanged(state, result, body_hash))
    try:
        parsed = await parser.parse(result.body, result.headers, result.url, state.name)
    except ParseError as exc:
        return failed(state, now, timing, str(exc), http_status=result.status)
    fetched = Fetched(
        status=FetchStatus.FETCHED,
        url=result.next_url,
        etag=_validator(result.headers.get("etag")),
        last_modified=_validator(result.headers.get("last-modified")),
        body_hash=body_hash,
        http_status=result.status,
        title=parsed.title,
        items=parsed.items,
        warnings=parsed.warnings,
        classifications=parsed.classifications,
    )
    return succeeded(state, now, timing, fetched)


class _Slot:
    """A body slot of `slots` whose wait does not count against the feed's deadline:
    the deadline bounds the network, and a slot frees up as other feeds are parsed."""

    def __init__(self, slots: asyncio.Semaphore, deadline: asyncio.Timeout) -> None:
        self.slots = slots
        self.deadline = deadline

    async def acquire(self) -> None:
        due = self.deadline.when()
        if due is None or not self.slots.locked():
            await self.slots.acquire()
            return
        loop = asyncio.get_running_loop()
        left = due - loop.time()
        self.deadline.reschedule(None)
        try:
            await self.slots.acquire()
        finally:
            self.deadline.reschedule(loop.time() + left)

    def release(self) -> None:
        self.slots.release()


def _unchanged(state: FeedState, result: FetchResult, body_hash: str | None) -> Fetched:
    # A 304 may omit the validators: the ones we sent stay valid.
    keep = result.not_modified
    return Fetched(
        status=FetchStatus.NOT_MODIFIED,
        url=result.next_url,
        etag=_validator(result.headers.get("etag")) or (state.etag if keep else None),
        last_modified=_validator(result.headers.get("last-modified"))
        or (state.last_modified if keep else None),
        body_hash=body_hash,
        http_status=result.status,
    )
