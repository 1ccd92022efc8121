"""`roundup users ...` and `roundup editions` as an operator runs them: a subprocess
on SQLite (the store's users on PostgreSQL are covered by test_desk_web.py), and
the pure session and rate-limit decisions as tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.accounts import Session, SessionCodec, login_allowed, session_problem
from bot.clock import FixedClock
from bot.config import DeskConfig
from bot.store import open_store
from bot.types import Role, User
from tests.desk_helpers import KEY, seed
from tests.render_editions import fixture_config

CONFIG = Path(__file__).resolve().parent / "fixtures" / "render" / "config.yaml"
Run = Callable[..., subprocess.CompletedProcess[str]]
SECRET_PASSWORD = "a long secret passphrase"


@pytest.fixture
def run(tmp_path: Path, sqlite_url: str) -> Run:
    def runner(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": sqlite_url, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("ROUNDUP_CONFIG", None)
        argv = [sys.executable, "-m", "bot", *args, "--config", str(CONFIG)]
        return subprocess.run(
            argv, cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True, timeout=120
        )

    return runner


def test_users_add_list_passwd_disable(run: Run, sqlite_url: str) -> None:
    added = run("users", "add", "edna", "--role", "editor", stdin=SECRET_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    ops = run("users", "add", "olga", "--role", "ops", "--email", "o@x.org", stdin="pw-pw-pw-pw\n")
    assert ops.returncode == 0, ops.stderr
    again = run("users", "add", "edna", "--role", "ops", stdin=SECRET_PASSWORD + "\n")
    assert again.returncode == 2 and "exists already" in again.stderr
    short = run("users", "add", "sam", "--role", "editor", stdin="short\n")
    assert short.returncode == 2 and "too short" in short.stderr

    listed = json.loads(run("users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["email"], u["disabled"]) for u in listed] == [
        ("edna", "editor", None, False),
        ("olga", "ops", "o@x.org", False),
    ]
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        stored = conn.execute(text("select password_hash from users where name='edna'")).scalar()
    engine.dispose()
    assert str(stored).startswith("$argon2id$") and SECRET_PASSWORD not in str(stored)

    changed = run("users", "passwd", "edna", stdin="another passphrase\n")
    assert changed.returncode == 0, changed.stderr
    assert SECRET_PASSWORD not in changed.stdout + changed.stderr
    assert run("users", "disable", "edna").returncode == 0
    assert run("users", "disable", "nobody").returncode == 2
    listed = json.loads(run("users", "list", "--json").stdout)
    assert [u["disabled"] for u in listed] == [True, False]


def test_editions_lists_key_state_stories_and_counts(run: Run, sqlite_url: str) -> None:
    assert json.loads(run("editions", "--json").stdout) == []
    seed(sqlite_url, fixture_config(), FixedClock())
    shown = run("editions", "--json")
    assert shown.returncode == 0, shown.stderr
    [row] = json.loads(shown.stdout)
    assert (row["key"], row["state"], row["stories"], row["approved_by"]) == (
        KEY,
        "draft",
        4,
        None,
    )
    assert row["recipients"] == 0 and row["sends"]["accepted"] == 0


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DESK = DeskConfig()
USER = User("edna", Role.EDITOR, "hash", session_epoch=3)
DISABLED = User("edna", Role.EDITOR, "h", disabled=True, session_epoch=3)
NEW_EPOCH = User("edna", Role.EDITOR, "h", session_epoch=4)


@pytest.mark.parametrize(
    ("issued_ago", "seen_ago", "user", "problem"),
    [
        (timedelta(hours=1), timedelta(minutes=5), USER, None),
        (timedelta(hours=11, minutes=59), timedelta(hours=1, minutes=59), USER, None),
        (timedelta(hours=3), DESK.session_idle + timedelta(seconds=1), USER, "idle"),
        (DESK.session_max + timedelta(seconds=1), timedelta(0), USER, "expired"),
        (timedelta(hours=1), timedelta(0), None, "ended"),  # the user is gone
        (timedelta(hours=1), timedelta(0), User("edna", Role.EDITOR, "h", disabled=True), "ended"),
        (
            timedelta(hours=1),
            timedelta(0),
            User("edna", Role.EDITOR, "h", session_epoch=4),
            "ended",
        ),
        (timedelta(hours=1), -timedelta(hours=1), USER, "ended"),  # seen in the future
    ],
)
def test_session_problems(
    issued_ago: timedelta, seen_ago: timedelta, user: User | None, problem: str | None
) -> None:
    issued, seen = int((NOW - issued_ago).timestamp()), int((NOW - seen_ago).timestamp())
    session = Session("edna", 3, "sid", issued, seen)
    assert session_problem(session, user, NOW, DESK) == problem


def test_session_cookie_is_signed() -> None:
    codec = SessionCodec("k" * 40)
    session = Session.start(USER, NOW)
    value = codec.encode(session)
    assert codec.decode(value) == session
    assert SessionCodec("j" * 40).decode(value) is None  # another secret
    assert codec.decode(value[:-2] + "xx") is None  # altered
    assert codec.decode("x" * 5000) is None and codec.decode(None) is None


@pytest.mark.parametrize(
    ("account", "address", "allowed"),
    [(0, 0, True), (4, 19, True), (5, 0, False), (0, 20, False), (5, 20, False)],
)
def test_login_allowed(account: int, address: int, allowed: bool) -> None:
    assert login_allowed(account, address, DESK) is allowed


def test_login_failures_are_counted_in_the_window(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        store.record_login_failure(["user:edna", "addr:1.2.3.4"], NOW)
        store.record_login_failure(["user:edna"], NOW + timedelta(minutes=10))
        assert store.login_failures_since("user:edna", NOW - timedelta(minutes=1)) == 2
        assert store.login_failures_since("user:edna", NOW) == 1  # strictly after
        assert store.login_failures_since("addr:1.2.3.4", NOW - timedelta(minutes=1)) == 1
        store.clear_login_failures("user:edna")
        assert store.login_failures_since("user:edna", NOW - timedelta(days=1)) == 0
