"""The `roundup` command as an operator runs it: a subprocess, real HTTP, a real database.

Checks the command contract of DESIGN.md: exit codes (0 done, 1 something failed,
2 bad usage or config), JSON only on stdout with --json, and errors as messages,
never tracebacks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.clock import SystemClock
from bot.demo import sample_body
from tests.httpserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
Run = Callable[..., subprocess.CompletedProcess[str]]


def write_config(path: Path, feeds: dict[str, str]) -> Path:
    data = yaml.safe_load((ROOT / "config" / "feeds.yaml").read_text(encoding="utf-8"))
    data["feeds"] = [{"name": n, "url": u} for n, u in feeds.items()]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def run(tmp_path: Path, sqlite_url: str) -> Run:
    def runner(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DATABASE_URL": sqlite_url,
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        env.pop("ROUNDUP_CONFIG", None)
        argv = [sys.executable, "-m", "bot", *args]
        if config is not None:
            argv += ["--config", str(config)]
        return subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    return runner


@pytest.fixture
def feeds_config(tmp_path: Path, feed_server: FeedServer) -> Path:
    clock = SystemClock()
    for file in ("responsible-statecraft.xml", "middle-east.xml"):
        feed_server.feed(f"/{file}", sample_body(file, clock), etag=f'"{file}"')
    return write_config(
        tmp_path / "feeds.yaml",
        {
            "responsible-statecraft": feed_server.url("/responsible-statecraft.xml"),
            "rs-middle-east": feed_server.url("/middle-east.xml"),
        },
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_config_exits_2_with_every_problem(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "config" / "feeds.yaml").read_text(encoding="utf-8")
    text = text.replace("url: https://responsiblestatecraft.org/feeds/feed.rss", "url: ftp://x")
    text = text.replace("timezone: America/New_York", "timezone: Mars/Olympus")
    bad.write_text(text, encoding="utf-8")
    result = run("feeds", config=bad)
    assert result.returncode == 2
    no_traceback(result)
    assert "bad.yaml:" in result.stderr
    assert "feeds[0].url" in result.stderr
    assert "newsletter.timezone" in result.stderr


def test_bad_usage_exits_2(run: Run, feeds_config: Path) -> None:
    result = run("items", "--since", "last tuesday", config=feeds_config)
    assert result.returncode == 2
    assert "--since" in result.stderr
    no_traceback(result)
    assert run("poll", "--feed", "nope", config=feeds_config).returncode == 2
    assert run("no-such-command").returncode == 2


def test_db_upgrade_then_up_to_date(run: Run, tmp_path: Path, feeds_config: Path) -> None:
    env_db = tmp_path / "fresh.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade", "--config", str(feeds_config)],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{env_db}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "upgraded" in result.stdout and env_db.exists()
    assert "up to date" in run("db", "upgrade", config=feeds_config).stdout


HOSTILE = "Talks [/x] resume [bold]now[/bold] :smile:"


def test_text_from_feeds_and_paths_is_printed_as_text(
    run: Run, tmp_path: Path, feed_server: FeedServer
) -> None:
    # Square brackets are rich's markup and :name: its emoji codes: a story's title
    # or a path holding them once stopped the command with a traceback, or changed
    # what was printed.
    feed_server.feed(
        "/hostile.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>'
        f"<link>https://h.example/</link><item><title>{HOSTILE}</title>"
        "<link>https://h.example/1</link><guid>h-1</guid>"
        "<pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>",
    )
    config = write_config(tmp_path / "feeds.yaml", {"hostile": feed_server.url("/hostile.xml")})
    assert run("poll", config=config).returncode == 0
    listed = run("items", config=config)
    assert listed.returncode == 0, listed.stderr
    assert HOSTILE in listed.stdout
    missing = tmp_path / "[red]" / "[/x] :smile:.yaml"
    failed = run("feeds", config=missing)
    no_traceback(failed)
    assert failed.returncode == 2
    assert f"error: cannot read config {missing}" in failed.stderr


def test_poll_summary_then_conditional_second_poll(
    run: Run, feeds_config: Path, feed_server: FeedServer
) -> None:
    first = run("poll", config=feeds_config)
    assert first.returncode == 0, first.stderr
    assert "fetched 2, not modified 0" in first.stdout
    assert "failed 0" in first.stdout
    found = re.search(r"not modified \d+, new (\d+), updated", first.stdout)
    assert found is not None
    new = int(found.group(1))
    assert new == 10  # 9 + 2 stories, one of them syndicated in both feeds

    assert "Poll summary" in first.stdout and "responsible-statecraft" in first.stdout

    second = run("poll", "--all", config=feeds_config)
    assert second.returncode == 0, second.stderr
    assert "fetched 0, not modified 2, new 0, updated 0, failed 0" in second.stdout
    # Unchanged feeds are counted, not listed: nothing happened to them.
    assert "Poll summary" not in second.stdout
    assert "responsible-statecraft" not in second.stdout
    assert feed_server.not_modified("/responsible-statecraft.xml") == 1

    listed = json.loads(run("items", "--json", config=feeds_config).stdout)
    assert len(listed) == new
    assert len({i["key"] for i in listed}) == new


def test_poll_exits_1_when_a_feed_fails_and_feeds_shows_why(
    run: Run, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.file("/ok.xml", FEEDS / "seed_roundup.xml")
    feed_server.status("/down.xml", 503, "maintenance")
    config = write_config(
        tmp_path / "f.yaml",
        {"ok": feed_server.url("/ok.xml"), "down": feed_server.url("/down.xml")},
    )
    result = run("poll", config=config)
    assert result.returncode == 1
    no_traceback(result)
    assert "failed 1" in result.stdout and "new 4" in result.stdout
    feeds = {f["name"]: f for f in json.loads(run("feeds", "--json", config=config).stdout)}
    assert "503" in feeds["down"]["last_error"]
    assert feeds["down"]["consecutive_failures"] == 1
    assert feeds["ok"]["last_error"] is None


def test_items_filter_by_region_and_json_only(run: Run, feeds_config: Path) -> None:
    run("poll", config=feeds_config)
    result = run("items", "--region", "Asia-Pacific", "--json", config=feeds_config)
    assert result.returncode == 0
    items = json.loads(result.stdout)  # JSON only: anything else fails to parse
    assert items and {i["region"] for i in items} == {"Asia-Pacific"}
    assert any("Takaichi" in i["title"] for i in items)
    table = run("items", "--region", "Europe", config=feeds_config)
    assert "NATO" in table.stdout


def test_classify_explain_dry_run_and_all(run: Run, feeds_config: Path) -> None:
    run("poll", config=feeds_config)
    items = json.loads(run("items", "--json", config=feeds_config).stdout)
    takaichi = next(i for i in items if "Takaichi" in i["title"])
    explained = run("classify", "--explain", takaichi["key"], config=feeds_config)
    assert explained.returncode == 0, explained.stderr
    assert "Asia-Pacific" in explained.stdout
    assert "Takaichi" in explained.stdout  # the matched text

    unknown = run("classify", "--explain", "no-such-item", config=feeds_config)
    assert unknown.returncode == 2
    no_traceback(unknown)

    assert json.loads(run("classify", "--dry-run", "--json", config=feeds_config).stdout) == []

    # The editors drop the Asia-Pacific section: its stories would move, and only
    # --all moves them.
    data = yaml.safe_load(feeds_config.read_text(encoding="utf-8"))
    data["regions"] = [r for r in data["regions"] if r["name"] != "Asia-Pacific"]
    changed = feeds_config.with_name("changed.yaml")
    changed.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    dry = run("classify", "--dry-run", "--json", config=changed)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip(), dry.stderr
    moves = json.loads(dry.stdout)
    moved_keys = {m["key"] for m in moves}
    assert takaichi["key"] in moved_keys
    assert all(m["from"] == "Asia-Pacific" for m in moves)
    listing = ("items", "--region", "Asia-Pacific", "--json")
    still = json.loads(run(*listing, config=feeds_config).stdout)
    assert {i["key"] for i in still} == moved_keys  # a dry run writes nothing

    assert run("classify", "--all", config=changed).returncode == 0
    assert json.loads(run(*listing, config=feeds_config).stdout) == []


def test_draft_preview_approve(run: Run, feeds_config: Path, tmp_path: Path) -> None:
    run("poll", config=feeds_config)
    drafted = run("draft", "--json", config=feeds_config)
    assert drafted.returncode == 0, drafted.stderr
    edition = json.loads(drafted.stdout)
    assert edition["state"] == "draft"
    assert len(edition["entries"]) >= 8
    key = edition["key"]

    out = tmp_path / "preview.html"
    assert run("preview", key, "--out", str(out), config=feeds_config).returncode == 0
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "Keep reading" in html
    text = run("preview", key, "--text", config=feeds_config)
    assert text.returncode == 0 and "Middle East" in text.stdout
    long = [line for line in text.stdout.splitlines() if len(line) > 72]
    assert all(line.split()[-1].startswith("http") for line in long)  # only a URL overruns

    approved = run("approve", key, "--by", "Ada Editor", config=feeds_config)
    assert approved.returncode == 0, approved.stderr
    assert f"edition {key} approved by Ada Editor" in approved.stdout
    again = run("draft", "--week", key, "--json", config=feeds_config)
    assert again.returncode == 1  # an approved edition is not refreshed behind its approver
    assert "is approved" in again.stderr and again.stdout == ""
    no_traceback(again)

    missing = run("approve", "2020-W01", "--by", "x", config=feeds_config)
    assert missing.returncode == 2
    assert "2020-W01" in missing.stderr


def test_demo_runs_offline_and_writes_the_edition(run: Run, tmp_path: Path) -> None:
    result = run("demo", config=ROOT / "config" / "feeds.yaml")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    html = next((tmp_path / "var" / "demo").glob("roundup-*.html"))
    text = html.with_suffix(".txt").read_text(encoding="utf-8")
    assert str(html.relative_to(tmp_path)) in result.stdout
    for region in ("Middle East", "Asia-Pacific", "Europe"):
        assert region.upper() in text or region in text
    assert "Takaichi" in html.read_text(encoding="utf-8")
