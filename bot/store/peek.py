"""A SQLite store's feed states, read with the driver alone, before SQLAlchemy is.

Why: `roundup poll` spends a fifth of a second importing SQLAlchemy before it can
read the feeds' states, and cannot fetch before it has them (the validators make a
fetch conditional). `peek_feeds` reads the same rows with the `sqlite3` module, so
the poll's fetch process can start on them while the command opens the store
(`pipeline.poll_ahead`). What it reads is only a guess: the command reads the states
again through the store, and a fetch started on a guess that differs is dropped.

What it does: for a ``sqlite:///path`` URL whose file exists and whose schema is at
the revision this code ships, return every feed's state (as `Store.feed_states`
does) and the names of the paused feeds (as `Store.feed_flags` does), read in one
transaction. Anything else gives None: PostgreSQL, a URL with options, a missing
file, another schema revision, a database locked for longer than a moment or not
readable at all.
What it does not do: write, create the file, raise, or decide anything.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.clock import ensure_utc
from bot.store.revision import script_head
from bot.types import FeedState

# A writer holds SQLite's lock for milliseconds; longer, the guess is not worth it.
BUSY_TIMEOUT_S = 0.05

_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_COLUMNS = (
    "name, url, config_url, etag, last_modified, body_hash, last_attempt, "
    "last_success, consecutive_failures, next_due, last_error, title"
)


@dataclass(frozen=True)
class FeedsPeek:
    """What the store held when it was peeked at."""

    states: tuple[FeedState, ...]  # ordered by name, as `Store.feed_states`
    paused: frozenset[str]


def peek_feeds(url: str) -> FeedsPeek | None:
    """The feed states and paused feeds of the SQLite store at `url`, or None."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        # Read-only: the peek must never create, migrate or lock out the store.
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return None
    try:
        db.isolation_level = None
        db.execute("BEGIN")  # one snapshot for the revision, the states and the flags
        revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
        if revision != [(script_head(),)]:
            return None
        rows = db.execute(f"SELECT {_COLUMNS} FROM feeds ORDER BY name").fetchall()
        paused = db.execute("SELECT name FROM feed_flags WHERE paused").fetchall()
        return FeedsPeek(tuple(_state(row) for row in rows), frozenset(n for (n,) in paused))
    except (sqlite3.Error, ValueError, TypeError):  # locked, another schema, odd values
        return None
    finally:
        db.close()


def sqlite_path(url: str) -> Path | None:
    """The file a plain ``sqlite:///path`` URL names (relative paths: to the working
    directory, as SQLAlchemy reads them); None for any other URL."""
    text = url.strip()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            # Options, escapes and in-memory databases are SQLAlchemy's to read.
            if rest and rest != ":memory:" and not any(c in rest for c in "?#%"):
                return Path(rest)
    return None


def _state(row: tuple[object, ...]) -> FeedState:
    (
        name,
        url,
        config_url,
        etag,
        modified,
        body_hash,
        attempt,
        success,
        failures,
        due,
        error,
        title,
    ) = row
    return FeedState(
        name=_text(name),
        url=_text(url),
        config_url=_text(config_url),
        etag=_optional_text(etag),
        last_modified=_optional_text(modified),
        body_hash=_optional_text(body_hash),
        last_attempt=_instant(attempt),
        last_success=_instant(success),
        consecutive_failures=_integer(failures),
        next_due=_instant(due),
        last_error=_optional_text(error),
        title=_optional_text(title),
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _instant(value: object) -> datetime | None:
    """A timestamp as the store writes it on SQLite: UTC text without an offset."""
    if value is None:
        return None
    return ensure_utc(datetime.fromisoformat(_text(value)))
