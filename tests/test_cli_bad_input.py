"""Bad input and bad days at the command line, as an operator meets them: a subprocess.

A config with several kinds of mistakes, a damaged SQLite file, a DATABASE_URL that
names no usable database, a disk that fills during a poll: each is answered with
clear lines and the right exit code, never a traceback. And `--help` shows on/off flags as flags.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
import yaml

from bot.cli import app
from tests.httpserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "feeds.yaml"
SUBSCRIBERS = 200


def roundup(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "100", "NO_COLOR": "1"}
    env.pop("ROUNDUP_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- config: every problem in one pass --------------------------------------------


def test_every_config_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    edits = {  # a schema error, a key written twice, a repeated feed and region name
        "    poll_interval: 30m\n": "    name: rs\n    poll_interval: often\n",
        "  - name: responsible-statecraft-analysis\n": (
            "  - name: responsible-statecraft-analysis\n    url: https://example.org/feed\n"
            "  - name: responsible-statecraft-analysis\n"
        ),
        "  - name: Europe\n": "  - name: Europe\n  - name: europe\n",
    }
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = roundup("feeds", "--config", str(bad), database_url="sqlite://", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = text.splitlines()
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    wanted = {
        "feeds[0].name: written twice": "    name: rs",
        "feeds[0].poll_interval: expected a duration": "    poll_interval: often",
        "feeds[2]: duplicate feed name 'responsible-statecraft-analysis'": "- name: responsib",
        "regions[3]: duplicate region name 'europe'": "  - name: europe",
        "regions[3]: duplicate region slug 'europe'": "  - name: europe",
    }
    for what, line_text in wanted.items():
        found = [p for p in problems if what in p]
        assert len(found) == 1, (what, problems)
        number = int(found[0].split(":")[1])
        assert line_text in lines[number - 1], (found[0], lines[number - 1])
    assert len(problems) == len(wanted), problems


# --- a damaged SQLite file --------------------------------------------------------


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real roundup database with subscribers, made by the CLI, fully checkpointed."""
    folder = tmp_path_factory.mktemp("good")
    csv = folder / "subscribers.csv"
    rows = [f"reader{i}@example.org" for i in range(SUBSCRIBERS)]
    csv.write_text("email,status\n" + "".join(f"{r},active\n" for r in rows), "utf-8")
    path = folder / "roundup.db"
    result = roundup(
        "subscribers",
        "import",
        str(csv),
        "--config",
        str(CONFIG),
        database_url=f"sqlite:///{path}",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield path


def _bad_value(data: bytearray, _path: Path) -> None:
    # A few status values changed in place: the pages stay well-formed, the rows do not.
    for _ in range(3):
        at = data.index(b"active")
        data[at : at + 6] = b"actxve"


def _pages(data: bytearray, path: Path) -> None:
    # Random bytes over the subscribers table and every page after it.
    with sqlite3.connect(path) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name='subscribers'"
        ).fetchone()
    size = int.from_bytes(data[16:18], "big")
    start = (root - 1) * size
    data[start:] = random.Random(7).randbytes(len(data) - start)


def _header(data: bytearray, _path: Path) -> None:
    data[:100] = random.Random(7).randbytes(100)


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (_bad_value, "'actxve' is not a valid"),
        (_pages, "malformed"),
        (_header, "not a database"),
    ],
)
def test_a_damaged_sqlite_file_is_named_with_how_to_restore_it(
    good_db: Path, tmp_path: Path, damage: object, detail: str
) -> None:
    path = tmp_path / "roundup.db"
    shutil.copyfile(good_db, path)
    data = bytearray(path.read_bytes())
    assert callable(damage)
    damage(data, good_db)
    path.write_bytes(bytes(data))
    result = roundup(
        "subscribers",
        "count",
        "--config",
        str(CONFIG),
        database_url=f"sqlite:///{path}",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    line = one_clear_line(result)
    assert f"the SQLite file {path} is damaged" in line
    assert detail in line
    assert f"sqlite3 {path} .recover" in line and "backup" in line
    assert "PostgreSQL" not in line and "db upgrade" not in line


# --- DATABASE_URL -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://roundup:secret@db.internal/roundup", "unsupported database 'mysql'"),
        ("notaurl", "DATABASE_URL is not a database URL"),
    ],
)
def test_an_unusable_database_url_is_bad_configuration(
    tmp_path: Path, url: str, message: str
) -> None:
    result = roundup("feeds", "--config", str(CONFIG), database_url=url, cwd=tmp_path)
    assert result.returncode == 2
    line = one_clear_line(result)
    assert message in line
    assert "secret" not in line


# --- --help -----------------------------------------------------------------------


def _commands_with_flags() -> list[tuple[list[str], list[str]]]:
    """(command words, its on/off flags) for every command that has one.

    Through click's own listing (`list_commands`/`get_command`), which also holds
    for groups that load their commands lazily."""
    found: list[tuple[list[str], list[str]]] = []

    def walk(command: Any, words: list[str], parent: Any) -> None:
        ctx = typer.Context(command, parent=parent, info_name=words[-1] if words else "roundup")
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*words, name], ctx)
            return
        flags = [opt for p in command.params if getattr(p, "is_flag", False) for opt in p.opts]
        if flags:
            found.append((words, flags))

    walk(typer.main.get_command(app), [], None)
    return found


def test_help_shows_flags_without_a_value_placeholder(tmp_path: Path) -> None:
    commands = [([], ["--help"]), *_commands_with_flags()]
    assert len(commands) > 5 and any("--all" in flags for _, flags in commands)
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    running = [
        (
            words,
            flags,
            subprocess.Popen(
                [sys.executable, "-m", "bot", *words, "--help"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for words, flags in commands
    ]
    for words, flags, process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "<bool>" not in out, (words, out)
        for flag in [*flags, "--help"]:
            row = next(line for line in out.splitlines() if f" {flag} " in line)
            after = row.split(flag, 1)[1].split()
            assert after and not after[0].startswith("<"), (words, row)
        if words:  # options that take a value keep their placeholder
            assert "<path>" in out, (words, out)


# --- a full disk in the middle of a poll ----------------------------------------------


def test_a_full_disk_during_a_poll_is_one_line_and_the_next_poll_loses_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = ROOT / "tests" / "fixtures" / "feeds"
    feed_server.file("/seed.xml", feeds / "seed_roundup.xml", etag='"v1"')
    feed_server.file("/atom.xml", feeds / "atom10.xml", etag='"v1"')
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["feeds"] = [
        {"name": "seed", "url": feed_server.url("/seed.xml")},
        {"name": "atom", "url": feed_server.url("/atom.xml")},
    ]
    config = tmp_path / "feeds.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'roundup.db'}"
    # The feeds are known first, so the poll's first write is its stories.
    assert roundup("feeds", "--json", "--config", str(config), database_url=url, cwd=tmp_path)

    def full_disk() -> None:
        # A write past 36 KB fails (EFBIG) in every file: SQLite's WAL index (32 KB)
        # and a few pages fit, a feed's stories do not.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (36_000, 36_000))

    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "100", "NO_COLOR": "1"}
    failed = subprocess.run(
        [sys.executable, "-m", "bot", "poll", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=full_disk,
    )
    assert failed.returncode == 1
    line = one_clear_line(failed)
    assert "roundup.db" in line and "error" in line

    # Nothing of the failed poll was kept as read: the next one fetches and stores all.
    again = roundup("poll", "--config", str(config), database_url=url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "fetched 2, not modified 0, new 6" in again.stdout
    # Both feeds were read by the failed poll too: it failed storing, not before.
    assert feed_server.hits("/seed.xml") == feed_server.hits("/atom.xml") == 2
