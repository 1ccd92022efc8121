"""Parsing off the event loop: the process pool, a dying worker, relative links.

Real processes (the fork server and its workers) and real feed bodies; nothing
here is mocked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.classify import WORKER_PRELOAD
from bot.classify.batch import BatchClassifier
from bot.classify.classifier import Classifier
from bot.config import load_config
from bot.errors import ParseError
from bot.ingest.parse import ParsedFeed, parse_feed
from bot.ingest.workers import ParsePool, default_workers, start_fork_server

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Relative</title>
<item><title>One</title><link>https://site.example/story/1</link>
<guid isPermaLink="false">one</guid>
<description>A lede.</description>
<content:encoded><![CDATA[<p><a href="/about">About</a> <a href="https://other.example/x">x</a>
<img src="pic.jpg" width="600"> <a href="javascript:alert(1)">bad</a></p>]]></content:encoded>
</item></channel></rss>"""


def test_relative_links_in_content_resolve_against_the_story() -> None:
    (item,) = parse_feed(FEED, HEADERS, "https://site.example/feed.xml", "f").items
    assert 'href="https://site.example/about"' in item.content
    assert 'href="https://other.example/x"' in item.content
    assert 'src="https://site.example/story/pic.jpg"' in item.content
    assert "javascript:" not in item.content  # sanitised still
    assert item.image_url == "https://site.example/story/pic.jpg"


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_one_worker_starts_no_fork_server() -> None:
    # One worker parses in a thread: asking for the server ahead starts nothing (in a
    # fresh interpreter: this one may have a server running from another test).
    probe = (
        "from multiprocessing import forkserver\n"
        "from bot.ingest.workers import start_fork_server\n"
        "start_fork_server((), 1)\n"
        "print(forkserver._forkserver._forkserver_pid)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "None"


def test_a_fork_server_started_early_is_the_one_the_workers_come_from() -> None:
    # A poll that will surely parse starts the fork server ahead of the first body
    # (`fetch_process.poll_here` or the fetch process), so the parsers are imported
    # meanwhile.
    from multiprocessing import forkserver

    start_fork_server(WORKER_PRELOAD)
    server = forkserver._forkserver._forkserver_pid
    assert server is not None and _parent(server) == os.getpid()
    start_fork_server(WORKER_PRELOAD)  # once running, it is left as it is
    assert forkserver._forkserver._forkserver_pid == server

    async def run() -> None:
        pool = ParsePool(2)
        try:
            await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
            assert pool._pool is not None
            assert {_parent(pid) for pid in pool._pool._processes} == {server}
        finally:
            pool.close()

    asyncio.run(run())


def test_the_pool_parses_in_processes_and_passes_parse_errors_on() -> None:
    async def run() -> None:
        pool = ParsePool(2)
        try:
            parsed = await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
            assert [i.key for i in parsed.items] == ["one"]
            with pytest.raises(ParseError, match="not a feed: the body is HTML"):
                await pool.parse(b"<html><body>hi</body></html>", {}, "https://x.example/", "h")
            assert pool._pool is not None and pool._pool._processes  # real workers ran it
            assert all(pid != os.getpid() for pid in pool._pool._processes)
        finally:
            pool.close()

    asyncio.run(run())


@pytest.mark.parametrize("workers", [1, 2])
def test_the_pool_reads_with_the_configured_parser(workers: int) -> None:
    async def run() -> list[str]:
        used = []
        for parser in ("feedparser", "fastfeedparser"):
            pool = ParsePool(workers, parser)
            try:
                parsed = await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
                used.append(parsed.parser)
            finally:
                pool.close()
        return used

    assert asyncio.run(run()) == ["feedparser", "fastfeedparser"]
    assert ParsePool().parser == "fastfeedparser"  # the default, as `fetch.parser`'s


@pytest.mark.parametrize("workers", [1, 2])
def test_a_pool_given_the_rules_classifies_each_feed_where_it_parsed_it(workers: int) -> None:
    config = load_config(ROOT / "config" / "feeds.yaml")
    body = (ROOT / "tests" / "fixtures" / "feeds" / "seed_roundup.xml").read_bytes()

    async def run() -> ParsedFeed:
        pool = ParsePool(workers, classify=BatchClassifier(config))
        try:
            return await pool.parse(body, HEADERS, "https://site.example/feed.xml", "f")
        finally:
            pool.close()

    parsed = asyncio.run(run())
    here = Classifier.from_config(config)
    assert parsed.items and parsed.classifications == tuple(map(here.classify, parsed.items))
    assert len({c.region for c in parsed.classifications}) > 1  # not all the fallback
    # Without the rules, nothing is classified there.
    assert (
        asyncio.run(ParsePool(1).parse(body, HEADERS, "https://e.org/", "f")).classifications
        is None
    )


def test_a_killed_worker_costs_one_retry_not_the_poll() -> None:
    async def run() -> None:
        pool = ParsePool(2)
        try:
            await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
            assert pool._pool is not None
            for pid in list(pool._pool._processes):
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.5)  # the executor notices its workers are gone
            parsed = await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
            assert [i.key for i in parsed.items] == ["one"]
        finally:
            pool.close()

    asyncio.run(run())


def test_one_worker_parses_in_a_thread_and_the_default_is_one_per_core() -> None:
    async def run() -> None:
        pool = ParsePool(1)
        parsed = await pool.parse(FEED, HEADERS, "https://site.example/feed.xml", "f")
        assert pool._pool is None and len(parsed.items) == 1

    asyncio.run(run())
    assert default_workers() == len(os.sched_getaffinity(0))


def test_a_workers_feed_warnings_are_logged_by_the_polling_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty_entry = FEED.replace(b"</channel>", b"<item><description></description></item></channel>")

    async def run() -> None:
        pool = ParsePool(2)
        try:
            await pool.parse(empty_entry, HEADERS, "https://site.example/feed.xml", "f")
        finally:
            pool.close()

    with caplog.at_level("WARNING", logger="bot.ingest.parse"):
        asyncio.run(run())
    assert [r.getMessage() for r in caplog.records] == [
        "feed f: entry 2 skipped: no title, no link and no text"
    ]
