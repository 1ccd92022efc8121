"""Start-up stays light: what `roundup --help` and `roundup feeds` import, in a real process.

Behaviour, not timing (timing is in bench/bench_startup.py): each command runs in a
fresh interpreter that reports, after the command, which heavy parts it loaded.
Alembic is loaded only when the schema has something to migrate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from alembic import command

from bot.ingest.workers import default_workers
from bot.pipeline import expects_bodies
from bot.store import head_revision, open_store
from bot.store.migrate import alembic_config
from bot.store.revision import script_head
from bot.types import FeedState
from tests.httpserver import FeedServer
from tests.test_cli import write_config

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"

# The parts a read-only command must not pay for: the classifier (only commands that
# classify compile the rules) and PostgreSQL's dialect (on a SQLite store) too.
HEAVY = (
    "alembic",
    "bot.web",
    "bot.render",
    "bot.send",
    "fastapi",
    "uvicorn",
    "sendgrid",
    "bot.classify.classifier",
    "bot.classify.lint",
    "sqlalchemy.dialects.postgresql",
    "feedparser",
    "fastfeedparser",
    "lxml",
    "nh3",
)
# A poll needs no more of rich than its table: nothing it imports may bring click or
# pygments (httpx's command-line client did), and a poll whose output is no terminal
# draws no progress bar.
POLL_HEAVY = (*HEAVY, "click", "pygments", "rich.syntax", "rich.progress")
# A command that prints JSON only never draws with rich, and does not load it.
JSON_HEAVY = (*HEAVY, "rich")
# Help is click's plain text: no rich. Nor the config or the store; and the list of
# commands, no pydantic either (Typer builds a command's converters with it).
COMMAND_HELP_HEAVY = (*JSON_HEAVY, "bot.config", "sqlalchemy")
HELP_HEAVY = (*COMMAND_HELP_HEAVY, "pydantic")
PROBE = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m in {HEAVY} or m.startswith({PREFIXES}))
sys.stderr.write("\\nMODULES " + json.dumps(heavy) + "\\n")
sys.exit(code)
"""


def _probe(
    args: list[str], cwd: Path, database_url: str, heavy: tuple[str, ...] = HEAVY
) -> tuple[int, str, list[str]]:
    prefixes = tuple(f"{h}." for h in heavy)
    code = PROBE.replace("{HEAVY}", repr(set(heavy))).replace("{PREFIXES}", repr(prefixes))
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("ROUNDUP_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = done.stderr.rpartition("MODULES ")[2]
    return done.returncode, done.stdout, json.loads(marker)


def test_help_imports_no_heavy_part(tmp_path: Path, sqlite_url: str) -> None:
    code, out, modules = _probe(["--help"], tmp_path, sqlite_url, HELP_HEAVY)
    assert code == 0
    assert "poll" in out and "feeds" in out  # the commands are all listed
    assert modules == []
    for words in (["feeds"], ["send"], ["users", "add"]):
        code, out, modules = _probe([*words, "--help"], tmp_path, sqlite_url, COMMAND_HELP_HEAVY)
        assert code == 0 and "--config" in out, words
        assert modules == [], words
    assert not (tmp_path / "var").exists()  # --help opens no database


def test_feeds_imports_no_heavy_part_once_migrated(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    config = write_config(tmp_path / "feeds.yaml", {"one": "http://127.0.0.1:9/feed.xml"})
    code, _, modules = _probe(["feeds", "--json", "--config", str(config)], tmp_path, sqlite_url)
    # The first start migrates the new database, and so needs Alembic...
    assert code == 0 and "alembic" in modules
    code, out, modules = _probe(
        ["feeds", "--json", "--config", str(config)], tmp_path, sqlite_url, JSON_HEAVY
    )
    # ...every later one reads the revision and goes on.
    assert code == 0
    assert [row["name"] for row in json.loads(out)] == ["one"]
    assert modules == []


def test_status_imports_no_heavy_part(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    config = write_config(tmp_path / "feeds.yaml", {"one": "http://127.0.0.1:9/feed.xml"})
    _probe(["db", "upgrade", "--config", str(config)], tmp_path, sqlite_url)
    code, out, modules = _probe(
        ["status", "--json", "--config", str(config)], tmp_path, sqlite_url, JSON_HEAVY
    )
    assert code == 0 and "scheduler" in json.loads(out)
    assert modules == []


def test_a_poll_where_nothing_changed_imports_no_parser(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.file("/seed.xml", FEEDS / "seed_roundup.xml", etag='"v1"')
    sqlite_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    config = write_config(tmp_path / "feeds.yaml", {"seed": feed_server.url("/seed.xml")})
    code, _, _ = _probe(["poll", "--config", str(config)], tmp_path, sqlite_url)
    assert code == 0
    code, out, modules = _probe(
        ["poll", "--all", "--config", str(config)], tmp_path, sqlite_url, POLL_HEAVY
    )
    assert code == 0 and "not modified 1" in out
    # Nothing to parse: the parser, the sanitiser and the classifier stay unloaded;
    # nor a command-line client of an HTTP library, nor a progress bar (the output is a pipe).
    assert modules == []


FORK_PROBE = """
import sys
from multiprocessing import forkserver
from bot.cli import main
ensure_running = forkserver.ensure_running
def noted():
    # Written at once: the poll's fetch process (forked, so patched too) starts it.
    sys.stderr.write("\\nSTARTED AHEAD\\n")
    sys.stderr.flush()
    ensure_running()
forkserver.ensure_running = noted
sys.exit(main(sys.argv[1:]))
"""


def test_the_parse_workers_start_early_only_when_a_body_is_sure_to_come(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # A feed never read will send a body: the fork server starts as soon as the
    # states are read, before any request. A poll where every feed was read before
    # starts none ahead (a changed feed starts it with its body).
    feed_server.file("/seed.xml", FEEDS / "seed_roundup.xml", etag='"v1"')
    config = write_config(tmp_path / "feeds.yaml", {"seed": feed_server.url("/seed.xml")})
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "COLUMNS": "200"}

    def early_starts(*args: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", FORK_PROBE, "poll", *args, "--config", str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stderr.count("STARTED AHEAD")

    # One worker parses in a thread: no fork server at all.
    assert early_starts() == (1 if default_workers() > 1 else 0)
    assert early_starts("--all") == 0


def test_expects_bodies_when_a_feed_was_never_read() -> None:
    never = FeedState(name="new", url="http://a.example/f", config_url="http://a.example/f")
    read = replace(never, name="old", etag='"v1"', body_hash="ab" * 32)
    unvalidated = replace(read, name="plain", etag=None)  # read before: same body, as a rule
    assert [
        expects_bodies(states)
        for states in ([], [read], [read, unvalidated], [read, never], [never])
    ] == [False, False, False, True, True]


def test_an_old_schema_is_still_migrated(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001_initial")
        assert store.current_revision() == "0001_initial"
        store.upgrade()  # the cheap check sees an old revision, so Alembic runs the rest
        assert store.current_revision() == head_revision()
        assert store.count_subscribers()  # a table of a later revision is there
    finally:
        store.close()


def test_the_cheap_head_is_alembics_head() -> None:
    assert script_head() == head_revision()


def test_a_script_head_that_is_not_single_defers_to_alembic(tmp_path: Path) -> None:
    for name, down in (("a", "None"), ("b", '"a"'), ("c", '"a"')):  # two heads: b and c
        (tmp_path / f"{name}.py").write_text(f'revision = "{name}"\ndown_revision = {down}\n')
    assert script_head(tmp_path) is None
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "b"\n')
    script_head.cache_clear()
    assert script_head(tmp_path) == "c"


def test_start_up_pauses_the_collector_and_a_command_settles_the_heap() -> None:
    code = (
        "import gc, sys, bot.__main__ as entry, bot.cli.core as core\n"
        "sys.argv = ['roundup', '--help']\n"
        "gc.enable(); gc.unfreeze()\n"
        "try:\n"
        "    entry.run()\n"
        "except SystemExit:\n"
        "    pass\n"
        "paused = not gc.isenabled()\n"
        "core.settle_heap()\n"
        "print(paused, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split()[-3:] == ["True", "True", "True"]


PLUGINS = """
import atexit, os, runpy, sys
from pydantic.plugin import _loader
# After the command: whether pydantic looked for plugins (None: it never did).
atexit.register(lambda: sys.stderr.write(f"\\nPLUGINS {_loader._plugins!r}\\n"))
sys.argv = ["roundup", *sys.argv[1:]]
runpy.run_module("bot", run_name="__main__")
"""


def test_commands_do_not_scan_installed_packages_for_pydantic_plugins(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path / "feeds.yaml", {"one": "http://127.0.0.1:9/feed.xml"})

    def plugins(env: dict[str, str]) -> str:
        done = subprocess.run(
            [sys.executable, "-c", PLUGINS, "feeds", "--json", "--config", str(config)],
            cwd=tmp_path,
            env={**env, "DATABASE_URL": sqlite_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr.rpartition("PLUGINS ")[2].strip()

    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    assert plugins(env) == "None"
    # The documented switch still wins when it is set, even empty: then they are.
    assert plugins({**env, "PYDANTIC_DISABLE_PLUGINS": ""}) == "{}"
