"""Feeds in the store: their identity from the config and their fetch state.

What it does: keeps one row per feed name in step with the config (new feeds added,
a changed URL starts the feed afresh), saves and reads each feed's fetch state
(ETag, Last-Modified, body hash, failures, next due time), and counts items per feed.
What it does not do: decide when a feed is due or how to back off (that is
`bot.ingest`), or delete feeds that left the config (their items stay meaningful).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, func, insert, select, update

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import feeds, items
from bot.types import FeedState

# Error texts can echo a server's response: keep what an operator needs, no more.
MAX_ERROR_CHARS = 2000

_STATE_COLUMNS = (
    "url",
    "config_url",
    "etag",
    "last_modified",
    "body_hash",
    "last_attempt",
    "last_success",
    "consecutive_failures",
    "next_due",
    "last_error",
    "title",
)


class FeedsMixin(StoreBase):
    def sync_feeds(self, feeds_in_config: Sequence[tuple[str, str]], now: datetime) -> None:
        """Add the config's new feeds; restart a feed whose configured URL changed.

        A changed URL replaces both the polled and the configured URL and clears
        what belonged to the old one (validators, body hash, failures and backoff).
        Feeds no longer in the config are kept, with their items.
        """
        wanted = dict(reversed(list(feeds_in_config)))  # the first entry of a name wins
        with self._write() as conn:
            known = {
                row.name: row.config_url
                for row in conn.execute(select(feeds.c.name, feeds.c.config_url))
            }
            new = [
                {"name": name, "url": url, "config_url": url, "added_at": ensure_utc(now)}
                for name, url in wanted.items()
                if name not in known
            ]
            if new:
                conn.execute(insert(feeds), new)
            for name, url in wanted.items():
                if name in known and known[name] != url:
                    conn.execute(
                        update(feeds)
                        .where(feeds.c.name == name)
                        .values(
                            url=url,
                            config_url=url,
                            etag=None,
                            last_modified=None,
                            body_hash=None,
                            consecutive_failures=0,
                            next_due=None,
                            last_error=None,
                        )
                    )

    def feed_states(self) -> list[FeedState]:
        """Every feed the store knows, ordered by name."""
        with self._read() as conn:
            rows = conn.execute(select(feeds).order_by(feeds.c.name)).mappings().all()
        return [_feed_state(row) for row in rows]

    def feed_state(self, name: str) -> FeedState | None:
        with self._read() as conn:
            row = conn.execute(select(feeds).where(feeds.c.name == name)).mappings().first()
        return None if row is None else _feed_state(row)

    def save_feed_state(self, state: FeedState) -> None:
        """Insert or replace the feed's state (all fields of `state`)."""
        self.save_feed_states([state])

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        """Insert or replace the states of several feeds, in one transaction."""
        if not states:
            return
        rows = [feed_state_row(state) for state in states]
        with self._write() as conn:
            conn.execute(feed_state_upsert(self), rows)  # one statement, executed for every row

    def feed_item_counts(self) -> dict[str, int]:
        """Stored items per feed name; every known feed appears, with 0 if it has none."""
        with self._read() as conn:
            counts = {name: 0 for name in conn.execute(select(feeds.c.name)).scalars()}
            query = select(items.c.feed, func.count()).group_by(items.c.feed)
            for feed, count in conn.execute(query):
                counts[feed] = int(count)
        return counts


def feed_state_upsert(store: StoreBase) -> Executable:
    """The statement that inserts or replaces a feed's state; it takes its values,
    a `feed_state_row` each, when executed. Built once per backend."""
    return store._cached_upsert(feeds, ("name",), _STATE_COLUMNS)


def feed_state_row(state: FeedState) -> dict[str, Any]:
    """A feed's state as the parameters of `feed_state_upsert`."""
    values: dict[str, Any] = {"name": state.name}
    values.update((name, getattr(state, name)) for name in _STATE_COLUMNS)
    if state.last_error is not None:
        values["last_error"] = state.last_error[:MAX_ERROR_CHARS]
    return values


def _feed_state(row: Any) -> FeedState:
    return FeedState(
        name=row["name"],
        url=row["url"],
        config_url=row["config_url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        last_attempt=row["last_attempt"],
        last_success=row["last_success"],
        consecutive_failures=int(row["consecutive_failures"]),
        next_due=row["next_due"],
        last_error=row["last_error"],
        title=row["title"],
    )
