"""Benchmark: polling many feeds, concurrently and when nothing changed.

Serves the 33 real feeds of the test corpus (cycled to `--feeds` feeds) from the
test HTTP server on 127.0.0.1 and polls them with `poll_feeds`:
1. with a simulated network latency per response (`--latency`), one feed at a time
   and then `--concurrency` at a time: the speed-up of concurrent fetching;
2. without latency: a first poll (every body parsed), a second poll of the same
   bodies served without validators (skipped by their sha256), and a third with
   ETags (answered 304): how much the unchanged-body checks save.

Run: .venv/bin/python bench/bench_ingest.py [--feeds N] [--latency S] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test server lives in tests/

from bot.config import FetchConfig  # noqa: E402
from bot.ingest import FeedOutcome, poll_feeds  # noqa: E402
from bot.types import FeedState  # noqa: E402
from tests.httpserver import FeedServer  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "feeds"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _serve(server: FeedServer, count: int, latency: float, etags: bool) -> list[FeedState]:
    files = sorted(p for p in CORPUS.iterdir() if p.suffix in (".xml", ".rss", ".atom"))
    states = []
    for i in range(count):
        source = files[i % len(files)]
        path = f"/feed{i}/{source.name}"
        etag = f'"{i}"' if etags else None
        kind = "atom" if source.suffix == ".atom" else "rss"
        server.feed(
            path,
            source.read_bytes(),
            content_type=f"application/{kind}+xml",
            etag=etag,
            delay=latency,
        )
        url = server.url(path)
        states.append(FeedState(name=f"feed{i}", url=url, config_url=url))
    return states


def _poll(states: list[FeedState], concurrency: int) -> tuple[float, list[FeedOutcome]]:
    settings = FetchConfig(concurrency=concurrency, read_timeout=timedelta(seconds=30))
    started = time.perf_counter()
    outcomes = asyncio.run(poll_feeds(states, settings, NOW))
    return time.perf_counter() - started, outcomes


def _summary(outcomes: list[FeedOutcome]) -> str:
    counts = Counter(o.status.value for o in outcomes)
    items = sum(len(o.items) for o in outcomes)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + f", {items} items"


def main() -> None:
    logging.disable(logging.WARNING)  # the corpus's feed warnings are not the point here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if os.environ.get("BENCH_SMOKE") == "1":
        args.feeds, args.latency = 4, 0.01

    with FeedServer() as server:
        states = _serve(server, args.feeds, args.latency, etags=False)
        serial, _ = _poll(states, 1)
        concurrent, outcomes = _poll(states, args.concurrency)
    print(f"{args.feeds} feeds, {args.latency * 1000:.0f} ms latency each: {_summary(outcomes)}")
    print(f"  one at a time       {serial:7.2f} s")
    print(f"  {args.concurrency} at a time        {concurrent:7.2f} s")
    print(f"  speed-up            {serial / concurrent:7.1f}x")
    stage = f"ingest corpus, {args.feeds} feeds"
    print(
        f"BENCH\t{stage}\t{args.concurrency} at a time\t{concurrent:.3g}\ts"
        f"\t{serial / concurrent:.1f}x"
    )

    with FeedServer() as server:
        states = _serve(server, args.feeds, 0.0, etags=False)
        first, outcomes = _poll(states, args.concurrency)
        again, unchanged = _poll([o.state for o in outcomes], args.concurrency)
    with FeedServer() as server:
        states = _serve(server, args.feeds, 0.0, etags=True)
        _, outcomes = _poll(states, args.concurrency)
        conditional, answered = _poll([o.state for o in outcomes], args.concurrency)
    print(f"no latency, {args.concurrency} at a time:")
    print(f"  first poll (parse everything)   {first:6.2f} s  {_summary(outcomes)}")
    print(f"  same bodies, no validators      {again:6.2f} s  {_summary(unchanged)}")
    print(f"  same bodies, ETag -> 304        {conditional:6.2f} s  {_summary(answered)}")
    print(f"  hash skip saves                 {first / again:6.1f}x")
    print(f"  304 saves                       {first / conditional:6.1f}x")
    print(f"BENCH\t{stage}\tre-poll, ETag -> 304\t{conditional:.3g}\ts\t{first / conditional:.1f}x")


if __name__ == "__main__":
    main()
