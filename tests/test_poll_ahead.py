"""`roundup poll` starts fetching before it has opened the store, on a guess read
with the SQLite driver alone (`bot.store.peek`, `pipeline.poll_ahead`), and keeps
what it fetched only when the guess was the poll's own call.

The promise: a right guess fetches each feed once, while the command is still
opening the store; a wrong one costs a second fetch, never a wrong result.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import pipeline
from bot.classify.batch import BatchClassifier
from bot.clock import FixedClock
from bot.config import Config, load_config
from bot.context import Context, open_context
from bot.store import open_store
from bot.store.peek import FeedsPeek, peek_feeds, sqlite_path
from bot.types import FeedState
from tests.httpserver import FeedServer
from tests.test_cli import write_config
from tests.test_fetch_process import PATIENCE
from tests.test_fetch_process import _wait_for as _wait_for

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _file(url: str) -> Path:
    path = sqlite_path(url)
    assert path is not None
    return path


# --- the peek ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/roundup.db", Path("var/roundup.db")),
        ("sqlite:////srv/roundup/roundup.db", Path("/srv/roundup/roundup.db")),
        ("sqlite+pysqlite:///roundup.db", Path("roundup.db")),
        ("  sqlite:///roundup.db\n", Path("roundup.db")),
        ("sqlite://", None),  # in memory
        ("sqlite:///:memory:", None),
        ("sqlite:///roundup.db?timeout=5", None),  # options are SQLAlchemy's to read
        ("sqlite:///road%20up.db", None),
        ("postgresql://roundup@localhost/roundup", None),
        ("", None),
    ],
)
def test_which_urls_are_peeked_at(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


def test_the_peek_reads_what_the_store_reads(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        store.sync_feeds([(f"f{i}", f"https://example.org/{i}.xml") for i in range(4)], NOW)
        store.save_feed_states(
            [
                FeedState("f0", "https://example.org/0.xml", "https://example.org/0.xml"),
                FeedState(
                    "f1",
                    "https://moved.example.org/1.xml",  # a permanent redirect moved it
                    "https://example.org/1.xml",
                    etag='W/"1-é"',
                    last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
                    body_hash="ab" * 32,
                    last_attempt=NOW - timedelta(microseconds=1),
                    last_success=datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
                    next_due=NOW + timedelta(minutes=30),
                    title="Foreign Affairs — Asia",
                ),
                FeedState(
                    "f2",
                    "https://example.org/2.xml",
                    "https://example.org/2.xml",
                    last_attempt=NOW,
                    consecutive_failures=3,
                    next_due=NOW + timedelta(hours=2),
                    last_error="HTTP 503 from example.org",
                ),
            ]
        )
        store.set_feed_paused("f2", True, by="ops", now=NOW)
        store.set_feed_paused("f3", True, by="ops", now=NOW)
        store.set_feed_paused("f3", False, by="ops", now=NOW)
        peek = peek_feeds(sqlite_url)
        assert peek == FeedsPeek(tuple(store.feed_states()), frozenset({"f2"}))
    finally:
        store.close()


def test_no_peek_where_the_store_is_not_one_it_can_read(tmp_path: Path, sqlite_url: str) -> None:
    missing = tmp_path / "missing.db"
    assert peek_feeds(f"sqlite:///{missing}") is None
    assert not missing.exists()  # and it did not create it
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert peek_feeds(f"sqlite:///{garbage}") is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database, never migrated
    assert peek_feeds(f"sqlite:///{empty}") is None
    assert peek_feeds("postgresql://roundup@127.0.0.1:1/roundup") is None
    # Another schema revision: the command migrates first, so the rows may change.
    assert peek_feeds(sqlite_url) is not None
    with sqlite3.connect(_file(sqlite_url)) as db:
        db.execute("UPDATE alembic_version SET version_num = '0001_initial'")
    assert peek_feeds(sqlite_url) is None


# --- the guess -----------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path, sqlite_url: str) -> Iterator[Context]:
    """Four feeds: never polled, polled and due later, failing and paused, polled and due."""
    feeds = {name: f"https://example.org/{name}.xml" for name in ("new", "later", "paused", "due")}
    config = load_config(write_config(tmp_path / "feeds.yaml", feeds))
    with open_context(config, database_url=sqlite_url, clock=FixedClock(NOW)) as ctx:
        ctx.store.sync_feeds([(f.name, f.url) for f in config.feeds], NOW)
        url = "https://example.org/{}.xml".format
        ctx.store.save_feed_states(
            [
                FeedState("later", url("later"), url("later"), etag='"l"', next_due=NOW + HOUR),
                FeedState("paused", url("paused"), url("paused"), consecutive_failures=2),
                FeedState("due", url("due"), url("due"), etag='"d"', next_due=NOW - HOUR),
            ]
        )
        ctx.store.set_feed_paused("paused", True, by="ops", now=NOW)
        yield ctx


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("feed", "force", "polled"),
    [
        (None, False, ["new", "due"]),
        (None, True, ["new", "later", "due"]),
        ("paused", False, ["paused"]),  # named: polled though paused
        ("later", False, ["later"]),  # named: polled though not due
    ],
)
def test_a_guess_from_the_peek_is_the_polls_own_call(
    ctx: Context, sqlite_url: str, feed: str | None, force: bool, polled: list[str]
) -> None:
    ahead = pipeline.poll_ahead(ctx.config, peek_feeds(sqlite_url), NOW, feed=feed, force=force)
    states = pipeline.feeds_to_poll(ctx, feed=feed, force=force, now=NOW)
    own = pipeline.poll_call(
        ctx.config, states, NOW, BatchClassifier(ctx.config, compiled=lambda: ctx.classifier)
    )
    assert [state.name for state in own.states] == polled
    assert ahead == own


def _with_feeds(config: Config, feeds: dict[str, str]) -> Config:
    return config.model_copy(
        update={"feeds": tuple(f.model_copy(update={"url": feeds[f.name]}) for f in config.feeds)}
    )


@pytest.mark.parametrize(
    "change",
    [
        "a feed new to the store",
        "a feed whose URL changed",
        "a feed the config does not name",
        "no peek",
    ],
)
def test_no_guess_where_opening_the_store_changes_what_the_peek_saw(
    ctx: Context, sqlite_url: str, change: str
) -> None:
    config, peek, feed = ctx.config, peek_feeds(sqlite_url), None
    assert pipeline.poll_ahead(config, peek, NOW) is not None
    if change == "a feed new to the store":
        assert peek is not None
        peek = FeedsPeek(tuple(s for s in peek.states if s.name != "due"), peek.paused)
    elif change == "a feed whose URL changed":
        urls = {f.name: f.url for f in config.feeds}
        config = _with_feeds(config, {**urls, "due": "https://example.org/moved.xml"})
    elif change == "a feed the config does not name":
        feed = "nowhere"  # the poll itself says so (a usage error)
    else:
        peek = None
    assert pipeline.poll_ahead(config, peek, NOW, feed=feed) is None


# --- real `roundup poll` processes ---------------------------------------------


def _poll(tmp_path: Path, sqlite_url: str, config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": sqlite_url, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("ROUNDUP_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "poll", *args, "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def polled_once(
    feed_server: FeedServer, tmp_path: Path, sqlite_url: str
) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """Two feeds polled once (their validators stored), and a connection to the
    store that holds its write lock: a command can read it, not write it."""
    feed_server.file("/quick.xml", FEEDS / "seed_roundup.xml", etag='"q1"')
    feed_server.file("/slow.xml", FEEDS / "seed_roundup.xml", etag='"s1"')
    config = write_config(
        tmp_path / "feeds.yaml",
        {"quick": feed_server.url("/quick.xml"), "slow": feed_server.url("/slow.xml")},
    )
    first = _poll(tmp_path, sqlite_url, config)
    out, err = first.communicate(timeout=PATIENCE * 3)
    assert first.returncode == 0, out + err
    db = sqlite3.connect(_file(sqlite_url), isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    try:
        yield config, db
    finally:
        db.close()


def test_a_right_guess_fetches_each_feed_once_while_the_store_is_busy(
    polled_once: tuple[Path, sqlite3.Connection],
    feed_server: FeedServer,
    tmp_path: Path,
    sqlite_url: str,
) -> None:
    config, db = polled_once
    poll = _poll(tmp_path, sqlite_url, config, "--all")
    try:
        # The command waits for the store's write lock; its fetch process does not.
        _wait_for("both feeds' requests", lambda: feed_server.hits("/slow.xml") == 2)
        _wait_for("both feeds' requests", lambda: feed_server.hits("/quick.xml") == 2)
        assert poll.poll() is None
        db.execute("COMMIT")
        out, err = poll.communicate(timeout=PATIENCE)
        assert poll.returncode == 0, out + err
        assert "fetched 0, not modified 2, new 0, updated 0, failed 0" in out
        # The guess was right: what was fetched ahead is the poll's, fetched once.
        assert feed_server.hits("/quick.xml") == feed_server.hits("/slow.xml") == 2
    finally:
        poll.kill()
        poll.wait()


@pytest.mark.parametrize("guess_done", [False, True], ids=["guess in flight", "guess done"])
def test_a_wrong_guess_is_dropped_and_the_poll_makes_its_own_call(
    polled_once: tuple[Path, sqlite3.Connection],
    feed_server: FeedServer,
    tmp_path: Path,
    sqlite_url: str,
    guess_done: bool,
) -> None:
    config, db = polled_once
    release = threading.Event()
    # A new version of the slow feed: a fetch of it is told apart from a 304. While
    # `release` is not set, the slow feed's answers wait (the guess's among them).
    feed_server.file("/slow.xml", FEEDS / "rss20.xml", etag='"s2"', until=release)
    if guess_done:
        release.set()
    # Written, not yet committed: the peek reads the old ETag, the poll the new one.
    db.execute("UPDATE feeds SET etag = '\"stale\"' WHERE name = 'slow'")
    poll = _poll(tmp_path, sqlite_url, config, "--all")
    try:
        _wait_for("the guess's requests", lambda: feed_server.hits("/slow.xml") == 2)
        _wait_for("the guess's requests", lambda: feed_server.hits("/quick.xml") == 2)
        if guess_done:
            time.sleep(0.5)  # its answers are read, and the guess is done
        db.execute("COMMIT")
        # The guess is dropped (while its request for the slow feed still waits, or
        # once it is done); the poll's own call asks again, with the store's ETag.
        _wait_for("the poll's own requests", lambda: feed_server.hits("/slow.xml") == 3)
        release.set()
        out, err = poll.communicate(timeout=PATIENCE)
        assert poll.returncode == 0, out + err
        assert "fetched 1, not modified 1" in out
        tags = [request.get("if-none-match") for request in feed_server.requests("/slow.xml")]
        assert tags == [None, '"s1"', '"stale"']
        assert feed_server.hits("/quick.xml") == 3  # asked again by the poll's own call
        store = open_store(sqlite_url)
        try:
            states = {state.name: state for state in store.feed_states()}
            assert states["slow"].etag == '"s2"'  # what the server said to the poll's call
        finally:
            store.close()
    finally:
        release.set()
        poll.kill()
        poll.wait()
