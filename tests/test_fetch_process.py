"""`roundup poll` fetches in a process it forks before opening the store: real
processes, killed and signalled in the middle of a poll.

The promise (`bot.ingest.fetch_process`): the fetch process never outlives the
command, and if it dies, the command says so in one line, stores every feed that
was reported, and leaves the others as they were, to be polled again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.ingest.fetch_process import FetchProcess
from bot.store import open_store
from tests.httpserver import FeedServer
from tests.test_cli import write_config

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
PATIENCE = 20.0  # seconds: how long a step may take before the test fails


def _start_poll(tmp_path: Path, sqlite_url: str, config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": sqlite_url, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("ROUNDUP_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "poll", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a job
    )


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _wait_for(what: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE:g}s for {what}")
        time.sleep(0.02)


@pytest.fixture
def held(feed_server: FeedServer, tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A config of two feeds: `quick` answers at once, `held` once the event is set."""
    release = threading.Event()
    feed_server.file("/quick.xml", FEEDS / "seed_roundup.xml", etag='"q1"')
    feed_server.file("/held.xml", FEEDS / "seed_roundup.xml", etag='"h1"', until=release)
    config = write_config(
        tmp_path / "feeds.yaml",
        {"quick": feed_server.url("/quick.xml"), "held": feed_server.url("/held.xml")},
    )
    yield config, release
    release.set()


def _fetch_process(poll: subprocess.Popen[str], feed_server: FeedServer) -> int:
    """The poll's fetch process, once its request for the held feed is in."""
    _wait_for("the held feed's request", lambda: feed_server.hits("/held.xml") >= 1)
    children = _children(poll.pid)
    assert len(children) == 1, children  # the fetch process; its workers are its own
    return children.pop()


def test_a_killed_fetch_process_costs_the_feeds_it_had_not_reported(
    held: tuple[Path, threading.Event], feed_server: FeedServer, tmp_path: Path, sqlite_url: str
) -> None:
    config, _ = held
    poll = _start_poll(tmp_path, sqlite_url, config)
    try:
        fetcher = _fetch_process(poll, feed_server)
        store = open_store(sqlite_url)
        try:
            # The quick feed is reported and stored while the held one waits.
            _wait_for("the quick feed's stories", lambda: store.feed_item_counts().get("quick"))
            os.kill(fetcher, signal.SIGKILL)
            # Returns once every process holding the command's output has ended: the
            # command, and the parse workers and fork server the fetch process left.
            out, err = poll.communicate(timeout=PATIENCE)
            assert poll.returncode == 1, out + err
            assert "Traceback" not in err
            lines = [line for line in err.splitlines() if line.strip()]
            assert lines == [
                "error: the fetch process was killed (signal 9) before the poll was done "
                "(1 of 2 feeds reported and stored); the others keep their state and are "
                "polled again next time"
            ]
            states = {s.name: s for s in store.feed_states()}
            assert states["quick"].etag == '"q1"' and store.feed_item_counts()["quick"] > 0
            # Never reported: as it was before the poll, so the next poll reads it.
            assert states["held"].last_attempt is None and states["held"].etag is None
            assert store.feed_item_counts()["held"] == 0
        finally:
            store.close()
    finally:
        poll.kill()
        poll.wait()


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGTERM, False),  # a service manager, or `kill`
        (signal.SIGKILL, False),  # the OOM killer, or `kill -9`
        (signal.SIGINT, True),  # Ctrl-C: the terminal signals the whole job
    ],
    ids=["SIGTERM", "SIGKILL", "Ctrl-C"],
)
def test_the_fetch_process_never_outlives_the_command(
    held: tuple[Path, threading.Event],
    feed_server: FeedServer,
    tmp_path: Path,
    sqlite_url: str,
    signum: signal.Signals,
    group: bool,
) -> None:
    config, _ = held
    poll = _start_poll(tmp_path, sqlite_url, config)
    try:
        fetcher = _fetch_process(poll, feed_server)
        if group:
            os.killpg(poll.pid, signum)
        else:
            os.kill(poll.pid, signum)
        _, err = poll.communicate(timeout=PATIENCE)  # see above: all have ended
        assert poll.returncode != 0
        assert "Traceback" not in err
        # The held feed still waits for its answer: the fetch process ends anyway.
        _wait_for("the fetch process to end", lambda: not _alive(fetcher))
    finally:
        poll.kill()
        poll.wait()


def test_with_another_thread_running_the_poll_stays_in_this_process(
    feed_server: FeedServer,
) -> None:
    # The feed server's threads run here: forking now could copy a lock one of them
    # holds, so no fetch process is started and the caller polls in-process.
    assert threading.active_count() > 1
    assert FetchProcess.start() is None
