"""Feed ingestion: fetch -> parse -> normalise, one `FeedOutcome` per feed.

What it does: polls feeds concurrently over HTTP (conditional GET, timeouts and a
per-feed deadline, a size cap on the decompressed body, bounded redirects with
permanent ones remembered), skips bodies that did not change, parses with
feedparser (the only part of roundup that imports it) behind a guard against XML
entity attacks, and normalises entries into `Item`s with clean text, canonical
URLs and sanitised HTML. Failures become FAILED outcomes with a one-line error and
an exponential backoff; they never stop the other feeds.
What it does not do: classify, store, or decide which feeds are due (`is_due` is
the caller's filter). Modules: `poll` (the orchestration), `fetch` and `body`
(HTTP, with aiohttp imported through `http`), `parse` and `xmlguard`
(feedparser), `normalise`, `media`, `text`, `urls` (entry -> Item), `due` and
`outcome` (pure state decisions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import lazy

if TYPE_CHECKING:
    from bot.ingest.due import backoff_delay, is_due, next_due
    from bot.ingest.outcome import FeedOutcome
    from bot.ingest.parse import ParsedFeed, parse_feed
    from bot.ingest.poll import default_user_agent, poll_feeds
    from bot.ingest.urls import canonical_url
    from bot.ingest.workers import start_fork_server

# Loaded on first use (`bot.lazy`): the polling process needs no feedparser when
# nothing changed, and the parse workers need no HTTP client.
_HOMES = {
    "FeedOutcome": "outcome",
    "ParsedFeed": "parse",
    "backoff_delay": "due",
    "canonical_url": "urls",
    "default_user_agent": "poll",
    "is_due": "due",
    "next_due": "due",
    "parse_feed": "parse",
    "poll_feeds": "poll",
    "start_fork_server": "workers",
}

__all__ = [
    "FeedOutcome",
    "ParsedFeed",
    "backoff_delay",
    "canonical_url",
    "default_user_agent",
    "is_due",
    "next_due",
    "parse_feed",
    "poll_feeds",
    "start_fork_server",
]

__getattr__ = lazy.exports(__name__, _HOMES)
