"""`roundup feeds` and `roundup status` open their store in a process forked as they
start (`bot.store.process`): real processes throughout.

The promises: a call made through the process answers what the store answers
in-process, on SQLite and PostgreSQL, and raises what it raises (the same class, the
same message); the command's own process never imports SQLAlchemy; the process
never outlives the command, whether the command ends, fails, is killed or is
interrupted; and a command that never opens its store (help, a bad config) opens
no database.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import errors, pipeline
from bot.cli import main
from bot.clock import FixedClock
from bot.context import open_context
from bot.demo import sample_body
from bot.errors import ConfigError, RoundupError, StaleEditionError
from bot.store import open_store
from bot.types import FeedState
from tests.httpserver import FeedServer
from tests.test_cli import write_config
from tests.test_fetch_process import PATIENCE, _alive, _children, _wait_for
from tests.test_pipeline import config_with

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# Runs calls (pickled, on stdin) through a store process; writes the answers, then
# the process's pid, pickled, on stdout.
THROUGH_PROCESS = """
import pickle, sys
from bot.store.process import StoreProcess
process = StoreProcess.start()
store = process.open(sys.argv[1])
answers = []
for name, args, kwargs in pickle.load(sys.stdin.buffer):
    try:
        answers.append(("ok", getattr(store, name)(*args, **kwargs)))
    except Exception as exc:
        answers.append(("error", exc))
store.close()
sys.stdout.buffer.write(pickle.dumps((answers, process.pid)))
"""

# The command as its console script runs it; after it, whether its own process
# imported SQLAlchemy and whether any child of it is left (reaped or running).
COMMAND = """
import atexit, os, sys
def report():
    try:
        os.waitpid(-1, os.WNOHANG)
        left = "some"
    except ChildProcessError:
        left = "none"
    sys.stderr.write(f"\\nCHILDREN {left} SQLALCHEMY {'sqlalchemy' in sys.modules}\\n")
atexit.register(report)  # registered first, so it runs last
sys.argv = ["roundup", *sys.argv[1:]]
from bot.__main__ import run
run()
"""


def _through_process(url: str, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", THROUGH_PROCESS, url],
        input=pickle.dumps(calls),
        capture_output=True,
        timeout=PATIENCE * 3,
    )
    assert done.returncode == 0, done.stderr.decode()
    answers, pid = pickle.loads(done.stdout)
    assert not _alive(pid)  # closed with the store
    return answers


def _in_process(url: str, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> Any:
    store = open_store(url)
    answers: list[tuple[str, Any]] = []
    try:
        for name, args, kwargs in calls:
            try:
                answers.append(("ok", getattr(store, name)(*args, **kwargs)))
            except Exception as exc:
                answers.append(("error", exc))
    finally:
        store.close()
    return answers


def _same(here: Any, there: Any) -> None:
    assert len(here) == len(there)
    for (kind, value), (other_kind, other) in zip(here, there, strict=True):
        assert kind == other_kind, (value, other)
        if kind == "error":
            assert (type(other), str(other), vars(other)) == (type(value), str(value), vars(value))
        else:
            assert other == value


@pytest.fixture
def drafted(database_url: str, feed_server: FeedServer) -> str:
    """A store with what `roundup status` shows: polled feeds (one failing, one
    paused), a draft, a scheduler's lease and its note of the next runs."""
    clock = FixedClock(NOW)
    for file in ("responsible-statecraft.xml", "middle-east.xml"):
        feed_server.feed(f"/{file}", sample_body(file, clock))
    config = config_with(
        {
            "responsible-statecraft": feed_server.url("/responsible-statecraft.xml"),
            "rs-middle-east": feed_server.url("/middle-east.xml"),
            "gone": feed_server.url("/gone.xml"),
        }
    )
    with open_context(config, database_url=database_url, clock=clock) as ctx:
        pipeline.poll(ctx)
        pipeline.draft(ctx)
        ctx.store.set_feed_paused("rs-middle-east", True, by="ops", now=NOW)
        assert ctx.store.acquire_lease("scheduler", "host:1:abc", timedelta(minutes=5), NOW)
        ctx.store.note_schedule("host:1:abc", {"poll": NOW.isoformat()}, NOW)
    return database_url


def test_calls_through_the_process_answer_as_the_store_does(drafted: str) -> None:
    store = open_store(drafted)
    try:
        edition = store.list_editions()[0]
        item = store.list_items()[0]
    finally:
        store.close()
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("feed_states", (), {}),
        ("feed_item_counts", (), {}),
        ("feed_flags", (), {}),
        ("lease_state", ("scheduler",), {}),
        ("schedule_note", (), {}),
        ("get_edition", (edition.key,), {}),
        ("list_editions", (), {}),
        ("ledger_summary", (edition.key,), {}),
        ("get_job_run", ("send", edition.key), {}),
        ("list_items", (), {"limit": 5}),
        ("get_item", (item.item.key,), {}),
        # Errors keep their class, message and attributes; the process goes on.
        ("set_region_manual", ("no-such-item", "Europe"), {}),
        ("save_edition", (replace(edition, subject="Changed"),), {"expected_version": 99}),
        ("acquire_lease", ("x", "h", timedelta(0), NOW), {}),
        ("count_subscribers", (), {}),
    ]
    there = _through_process(drafted, calls)
    here = _in_process(drafted, calls)
    _same(here, there)
    assert there[0][1] and there[2][1] and there[4][1]  # the fixture left something to read
    errors = [value for kind, value in there if kind == "error"]
    assert [type(e).__name__ for e in errors] == [
        "NotFoundError",
        "StaleEditionError",
        "ValueError",
    ]
    assert isinstance(errors[1], StaleEditionError) and errors[1].current == 1


def _script(code: str, url: str) -> list[str]:
    """The lines `code` prints, run by a fresh interpreter with `url` as its argument."""
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=PATIENCE
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:1/none",  # nothing listens
        "postgresql://127.0.0.1:5432/no_such_database",
        "mysql://127.0.0.1/x",
        "sqlite:////proc/none/roundup.db",  # a directory that cannot be made
    ],
)
def test_a_store_that_cannot_be_opened_fails_as_it_does_in_process(url: str) -> None:
    code = (
        "import sys\n"
        "from bot.store.process import StoreProcess\n"
        "try:\n"
        "    StoreProcess.start().open(sys.argv[1]).upgrade()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__); print(exc)\n"
    )
    there = _script(code, url)
    with pytest.raises(RoundupError) as here:
        open_store(url).upgrade()
    assert there == [type(here.value).__name__, str(here.value)]


def test_what_cannot_cross_is_refused_and_the_process_goes_on(sqlite_url: str) -> None:
    code = (
        "import sys\n"
        "from bot.store.process import StoreProcess\n"
        "store = StoreProcess.start().open(sys.argv[1])\n"
        "for call in (lambda: store.iter_items(), lambda: store.list_items(limit=lambda: 1)):\n"
        "    try:\n"
        "        call()\n"
        "    except TypeError as exc:\n"
        "        print(exc)\n"
        "print(len(store.feed_states()))\n"
        "print(hasattr(store, 'engine'), hasattr(store, '_read'))\n"
        "store.close()\n"
    )
    lines = _script(code, sqlite_url)
    assert lines[0].startswith("a store process cannot send back generator")
    assert lines[1].startswith("a store process cannot take the arguments of list_items")
    # Nothing was left half-sent: the next call is answered. Only methods cross.
    assert lines[2:] == ["0", "False False"]


def test_a_killed_store_process_fails_the_call_in_one_line(sqlite_url: str) -> None:
    code = (
        "import os, signal, sys\n"
        "from bot.store.process import StoreProcess\n"
        "process = StoreProcess.start()\n"
        "store = process.open(sys.argv[1])\n"
        "store.feed_states()\n"
        "os.kill(process.pid, signal.SIGKILL)\n"
        "try:\n"
        "    store.feed_states()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__); print(exc)\n"
        "store.close()\n"
    )
    assert _script(code, sqlite_url) == [
        "StoreError",
        "the store process was killed (signal 9) during feed_states: run the command again",
    ]


def _command(
    args: list[str], tmp_path: Path, database_url: str, **popen: Any
) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("ROUNDUP_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-c", COMMAND, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _report(err: str) -> str:
    return err.rpartition("\nCHILDREN ")[2].strip()


@pytest.mark.parametrize("command", ["feeds", "status"])
def test_the_command_prints_what_it_prints_in_process(
    drafted: str,
    tmp_path: Path,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(drafted)
    try:
        feeds = {state.name: state.config_url for state in store.feed_states()}
    finally:
        store.close()
    config = write_config(tmp_path / "feeds.yaml", feeds)
    args = [command, "--json", "--config", str(config)]
    with monkeypatch.context() as env:
        env.setenv("DATABASE_URL", drafted)
        assert main(args) == 0  # nothing was forked here: the store opens in-process
        here = json.loads(capsys.readouterr().out)
    process = _command(args, tmp_path, drafted)
    out, err = process.communicate(timeout=PATIENCE * 3)
    assert process.returncode == 0, err
    there = json.loads(out)
    if command == "status":
        assert here.pop("now") != there.pop("now")
        assert here["scheduler"]["running"] is False  # the fixture's lease has lapsed
        assert here["edition"] and len(here["failing_feeds"]) == 2
    else:
        assert sorted(row["status"] for row in here) == ["failing", "ok", "paused"]
    assert there == here
    # The store was the process's: this one imported no SQLAlchemy, and left no child.
    assert _report(err) == "none SQLALCHEMY False"


@pytest.mark.parametrize(
    "args",
    [["feeds", "--help"], ["status", "--config", "missing.yaml"], ["feeds", "--jsn"]],
    ids=["help", "no config", "bad option"],
)
def test_a_command_that_opens_no_store_leaves_no_process_and_no_database(
    tmp_path: Path, args: list[str]
) -> None:
    database = tmp_path / "never.db"
    process = _command(args, tmp_path, f"sqlite:///{database}")
    _, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == (0 if "--help" in args else 2), err
    assert "Traceback" not in err
    assert _report(err) == "none SQLALCHEMY False"
    assert not database.exists()


@pytest.mark.parametrize(
    ("signum", "group"),
    [(signal.SIGTERM, False), (signal.SIGKILL, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGKILL", "Ctrl-C"],
)
def test_the_store_process_never_outlives_the_command(
    tmp_path: Path, sqlite_url: str, signum: signal.Signals, group: bool
) -> None:
    config = write_config(tmp_path / "feeds.yaml", {"one": "http://127.0.0.1:9/feed.xml"})
    store = open_store(sqlite_url)
    store.upgrade()
    store.save_feed_states([FeedState("one", "http://127.0.0.1:9/feed.xml", "x")])
    store.close()
    # The test holds the store's write lock: the command's first write waits for it.
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    try:
        command = _command(
            ["feeds", "--json", "--config", str(config)],
            tmp_path,
            sqlite_url,
            start_new_session=True,  # its own process group, as a shell gives a job
        )
        try:
            _wait_for("the store process", lambda: _children(command.pid))
            (child,) = _children(command.pid)
            # Once it has the file open, its next steps are a read and the feeds' sync,
            # which waits for the lock.
            _wait_for("the store to open", lambda: _has_open(child, database))
            if group:
                os.killpg(command.pid, signum)
            else:
                os.kill(command.pid, signum)
            _, err = command.communicate(timeout=PATIENCE)
            assert command.returncode != 0
            assert "Traceback" not in err
            if group:  # Ctrl-C: the command ends (130, as shells count it) and reaps it
                assert command.returncode == 130
                assert _report(err) == "none SQLALCHEMY False"
            db.execute("COMMIT")
            # Killed, or done with its call: it ends, and writes nothing after.
            _wait_for("the store process to end", lambda: not _alive(child))
        finally:
            command.kill()
            command.wait()
    finally:
        db.close()


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has the file at `path` open."""
    found = False
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            found = found or Path(os.readlink(fd)) == path
        except OSError:
            continue
    return found


def test_every_error_crosses_from_the_process_whole() -> None:
    # An error the store raises is pickled back to the command: each class of
    # `bot.errors` must be rebuilt with its message and its attributes (a class with
    # arguments of its own is listed here, or this fails until it is).
    arguments: dict[type[RoundupError], tuple[object, ...]] = {
        ConfigError: ("bad config", ("feeds.yaml:3: feeds.0.url: not a URL",)),
        StaleEditionError: ("edition 2026-W48 changed", 4),
    }
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, RoundupError)
    ]
    assert len(classes) > 10
    for cls in classes:
        error = cls(*arguments.get(cls, ("what went wrong",)))
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy), vars(copy)) == (cls, str(error), vars(error))
        assert copy.exit_code == error.exit_code
