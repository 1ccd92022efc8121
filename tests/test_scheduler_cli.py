"""Manual actions from the command line, as ops run them: pause and resume a feed,
poll, draft and send now, resume; each recorded in the audit log with who did it;
`roundup status` without a scheduler running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from bot.context import open_context
from bot.store import open_store
from tests.httpserver import FeedServer
from tests.scheduling import SECRET, add_stories, add_subscribers, outbox, write_config

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def roundup(tmp_path: Path, url: str, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "ROUNDUP_SECRET_KEY": SECRET, "COLUMNS": "200"}
    env.pop("ROUNDUP_CONFIG", None)
    argv = [sys.executable, "-m", "bot", *args, "--config", str(config)]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_manual_actions_are_audited_with_who_did_them(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    feed_server.feed("/feed.xml", (FEEDS / "rss20.xml").read_bytes())
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace("http://127.0.0.1:9/feed.xml", feed_server.url("/feed.xml"))
    )
    run = lambda *args: roundup(tmp_path, sqlite_url, config, *args)  # noqa: E731

    paused = run("feeds", "pause", "main", "--by", "alice")
    assert paused.returncode == 0, paused.stderr
    polled = run("trigger", "poll", "--by", "carol", "--json")
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout)["detail"].startswith("0 feeds")  # paused: not polled
    assert feed_server.hits("/feed.xml") == 0
    feeds = json.loads(run("feeds", "--json").stdout)
    assert [(f["name"], f["status"]) for f in feeds] == [("main", "paused")]
    assert run("feeds", "resume", "main", "--by", "alice").returncode == 0
    assert run("trigger", "poll", "--by", "carol").returncode == 0
    assert feed_server.hits("/feed.xml") == 1

    with open_context(config, database_url=sqlite_url) as ctx:
        add_stories(ctx, 3, ctx.clock.now())
        readers = add_subscribers(ctx, 3)
    drafted = run("trigger", "draft", "--by", "bob", "--json")
    assert drafted.returncode == 0, drafted.stderr
    key = json.loads(drafted.stdout)["edition"]
    assert run("approve", key, "--by", "editor").returncode == 0
    sent = run("trigger", "send", "--by", "dana", "--json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["result"] == "sent"
    assert Counter(outbox(tmp_path, key)) == Counter(readers)

    nothing = run("trigger", "resume", "--by", "dana")
    assert nothing.returncode == 2
    assert "nothing to resume" in nothing.stderr and "Traceback" not in nothing.stderr
    unknown = run("feeds", "pause", "nope")
    assert unknown.returncode == 2 and "no feed named 'nope'" in unknown.stderr

    store = open_store(sqlite_url)
    try:
        ops = [(a.actor, a.action, a.detail.get("feed")) for a in store.audit_log("ops")]
        edition = [(a.actor, a.action) for a in store.audit_log(key)]
    finally:
        store.close()
    assert ops == [
        ("alice", "feed_pause", "main"),
        ("carol", "poll_now", None),
        ("alice", "feed_resume", "main"),
        ("carol", "poll_now", None),
    ]
    assert ("bob", "create") in edition and ("bob", "draft_now") in edition
    assert ("dana", "send_now") in edition


def test_status_without_a_scheduler(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path)
    result = roundup(tmp_path, sqlite_url, config, "status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["scheduler"]["holder"] is None and data["scheduler"]["pid"] is None
    assert data["edition"] is None and data["last_send"] is None
    text = roundup(tmp_path, sqlite_url, config, "status")
    assert text.returncode == 0 and "not running" in text.stdout
    # The jobs table, drawn as rich draws it: a row per job and its next run.
    rows = [line for line in text.stdout.splitlines() if line.startswith("│")]
    cells = [tuple(cell.strip() for cell in row.strip("│").split("│")) for row in rows]
    jobs = data["scheduler"]["jobs"]
    assert jobs and [name for name, _ in cells] == [job["name"] for job in jobs]
    for _, when in cells:
        assert when == "-" or datetime.fromisoformat(when).tzinfo is not None
