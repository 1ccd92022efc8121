"""Every corpus file served over HTTP and polled once: outcomes match expected.json.

193 files (33 real feeds, 160 of feedparser's own test files) are served by one
test server, each with the headers its header comment names, and polled in one
`poll_feeds` call, once with each parser (`fetch.parser`): the outcomes are the
same. Per file: the parser that reads it (the fast parser, or feedparser when the
fast parser hands it on), the status and item count match `expected.json`,
every entry feedparser read is either an item or skipped with a warning, keys are
unique within the feed, stored HTML is sanitised, and failures carry a clear error.
`ROUNDUP_UPDATE_GOLDEN=1` rewrites expected.json (see fixtures/corpus/SOURCES.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import PARSERS, FetchConfig
from bot.errors import ParseError
from bot.ingest import FeedOutcome, parse_feed, poll_feeds
from bot.types import FeedState, FetchStatus
from tests.httpserver import FeedServer

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus"
EXPECTED = CORPUS / "expected.json"
FILES = sorted(
    p.relative_to(CORPUS).as_posix()
    for p in CORPUS.rglob("*")
    if p.is_file() and p.suffix in (".xml", ".rss", ".atom")
)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = FetchConfig(concurrency=8, read_timeout=timedelta(seconds=10))
HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)
DEFAULT_TYPES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}
UNSAFE_HTML = re.compile(r"<script|<iframe|<object|<embed|<style|javascript:|\son\w+\s*=", re.I)


def served_headers(path: Path) -> dict[str, str]:
    """The headers feedparser's own test server would send with this file."""
    headers = {
        m.group(1).decode("ascii"): m.group(2).decode("latin-1")
        for m in HEADER_LINE.finditer(path.read_bytes()[:4096])
    }
    if not any(name.lower() == "content-type" for name in headers) and not path.name.startswith(
        "no_content_type"
    ):
        headers["Content-Type"] = DEFAULT_TYPES.get(path.suffix, "application/xml")
    return headers


@pytest.fixture(scope="module", params=PARSERS)
def outcomes(request: pytest.FixtureRequest) -> Iterator[dict[str, FeedOutcome]]:
    settings = SETTINGS.model_copy(update={"parser": request.param})
    with FeedServer() as server:
        states = []
        for name in FILES:
            server.feed(
                f"/{name}",
                (CORPUS / name).read_bytes(),
                content_type=None,
                headers=served_headers(CORPUS / name),
            )
            url = server.url(f"/{name}")
            states.append(FeedState(name=name, url=url, config_url=url))
        polled = asyncio.run(poll_feeds(states, settings, NOW))
        yield {outcome.name: outcome for outcome in polled}


def _parsed(name: str) -> tuple[int | None, str]:
    """How many entries the parser read from the file, and which parser it was."""
    path = CORPUS / name
    headers = {k.lower(): v for k, v in served_headers(path).items()}
    try:
        parsed = parse_feed(path.read_bytes(), headers, f"http://127.0.0.1/{name}", name)
    except ParseError:
        return None, "feedparser"
    return parsed.entries, parsed.parser


@pytest.fixture(scope="module")
def expected(outcomes: dict[str, FeedOutcome]) -> dict[str, Any]:
    if os.environ.get("ROUNDUP_UPDATE_GOLDEN"):
        data = {
            name: {
                "status": outcome.status.value,
                "items": len(outcome.items),
                "entries": _parsed(name)[0],
                "error": outcome.error,
                "parser": _parsed(name)[1],
            }
            for name, outcome in sorted(outcomes.items())
        }
        EXPECTED.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    loaded: dict[str, Any] = json.loads(EXPECTED.read_text("utf-8"))
    return loaded


def test_expected_names_every_corpus_file(
    outcomes: dict[str, FeedOutcome], expected: dict[str, Any]
) -> None:
    assert sorted(expected) == FILES
    assert sum(name.startswith("feeds/") for name in FILES) == 33
    assert sum(name.startswith("feedparser_corpus/") for name in FILES) == 160
    assert set(outcomes) == set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_corpus_outcome_matches_golden(
    outcomes: dict[str, FeedOutcome], expected: dict[str, Any], name: str
) -> None:
    outcome, want = outcomes[name], expected[name]
    assert _parsed(name)[1] == want["parser"]
    assert outcome.status.value == want["status"]
    assert outcome.error == want["error"]
    assert len(outcome.items) == want["items"]
    if outcome.status is FetchStatus.FAILED:
        assert outcome.error and "internal error" not in outcome.error
        assert outcome.items == () and outcome.state.consecutive_failures == 1
        return
    skipped = [w for w in outcome.warnings if re.match(r"entry \d+ skipped: ", w)]
    assert len(outcome.items) + len(skipped) == want["entries"]
    keys = [item.key for item in outcome.items]
    assert len(set(keys)) == len(keys), "keys are unique within a feed"
    for item in outcome.items:
        assert item.feed == name and item.title
        assert not UNSAFE_HTML.search(item.content), item.content
        assert item.published is None or item.published.tzinfo is UTC
        assert item.url == "" or item.url.startswith(("http://", "https://"))


def test_real_feeds_all_read_with_their_stories(outcomes: dict[str, FeedOutcome]) -> None:
    real = {name: o for name, o in outcomes.items() if name.startswith("feeds/")}
    assert all(o.status is FetchStatus.FETCHED for o in real.values())
    nyt = real["feeds/nyt__world_2024-08.xml"]
    assert len(nyt.items) == 60
    assert sum(bool(item.image_url) for item in nyt.items) >= 50
    assert sum(bool(item.author) for item in nyt.items) >= 50
    assert any("Israel" in item.tags for item in nyt.items)
    latin1 = real["feeds/rss-parser__encoding.rss"]
    assert any(ch in "".join(i.title for i in latin1.items) for ch in "ãçéõ")
    bozo = real["feeds/rss-parser__uolNoticias.rss"]
    assert bozo.warnings and bozo.warnings[0].startswith("encoding: ")
