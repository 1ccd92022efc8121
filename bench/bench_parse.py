"""Benchmark: reading one feed body, with each parser (`fetch.parser`).

For the generated feed of the poll benchmark (30 stories, about 150 KB, the plain
RSS 2.0 most news sites send) and for the 33 real feeds of the test corpus, in one
process: milliseconds a feed for reading alone (the parser's result, before
`normalise`) and for `parse_feed` whole (read, then normalise every entry), with
feedparser and with the default, fastfeedparser (which hands the feeds it does not
take to feedparser: the real feeds' figure includes those). Ratios are against
feedparser. The best of several rounds is shown.

Run: .venv/bin/python bench/bench_parse.py   (BENCH_SMOKE=1: one round)
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feedserver import feed_body
from measure import ROOT, SMOKE, row

sys.path.insert(0, str(ROOT))
from bot.ingest.fastparse import parse_fast
from bot.ingest.parse import parse_feed

CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "feeds"
ROUNDS = 1 if SMOKE else 4
Body = tuple[bytes, str]


def _best(work: Callable[[], object], bodies: list[Body]) -> float:
    """The best round's time, in ms a feed."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return 1000 * best / len(bodies)


def _read_feedparser(bodies: list[Body]) -> None:
    for body, kind in bodies:
        feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-type": kind},
            resolve_relative_uris=False,
            sanitize_html=False,
        )


def _read_fast(bodies: list[Body]) -> None:
    for body, kind in bodies:
        if parse_fast(body, kind) is None:
            _read_feedparser([(body, kind)])


def _parse(bodies: list[Body], parser: str) -> None:
    for body, kind in bodies:
        parse_feed(body, {"content-type": kind}, "https://example.org/feed", "f", parser)


def measure(stage: str, bodies: list[Body]) -> None:
    taken = sum(parse_fast(body, kind) is not None for body, kind in bodies)
    print(f"\n{stage}: {len(bodies)} feeds, {taken} read by fastfeedparser, the rest by feedparser")
    figures = {
        "read, feedparser": _best(lambda: _read_feedparser(bodies), bodies),
        "read, fastfeedparser": _best(lambda: _read_fast(bodies), bodies),
        "parse_feed, feedparser": _best(lambda: _parse(bodies, "feedparser"), bodies),
        "parse_feed, fastfeedparser": _best(lambda: _parse(bodies, "fastfeedparser"), bodies),
    }
    for name, ms in figures.items():
        base = figures[name.split(",")[0] + ", feedparser"]
        print(f"  {name:<28}{ms:8.2f} ms a feed  {base / ms:5.1f}x")
        row(stage, name, ms, "ms/feed", base / ms)


def main() -> None:
    logging.disable(logging.WARNING)  # the corpus's feed warnings are not the point here
    generated = [(feed_body(n), "application/rss+xml") for n in range(3 if SMOKE else 20)]
    measure("parse generated feed (150 KB)", generated)
    real = [
        (p.read_bytes(), "application/atom+xml" if p.suffix == ".atom" else "application/rss+xml")
        for p in sorted(CORPUS.iterdir())
        if p.suffix in (".xml", ".rss", ".atom")
    ]
    measure("parse real feeds", real[:4] if SMOKE else real)


if __name__ == "__main__":
    main()
