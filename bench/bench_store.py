"""Benchmark of the store: batched upserts against one transaction per item, and reads.

Prints items per second and ratios on SQLite (a temporary file) and, when
`ROUNDUP_BENCH_POSTGRES_URL` names a PostgreSQL server (an admin URL, as for the
tests), on a temporary database there too. Numbers only: nothing here asserts.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.store import open_store
from bot.types import Classification, Item, RuleMatch

ITEMS = 2000  # stored by the batched path
NAIVE_ITEMS = 200  # stored one transaction per item (the baseline)
POLL_BATCH = 50  # items per feed poll
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
REGIONS = ("Middle East", "Asia-Pacific", "Europe", "Africa")


def make_rows(prefix: str, count: int) -> list[tuple[Item, Classification]]:
    rows = []
    for n in range(count):
        region = REGIONS[n % len(REGIONS)]
        item = Item(
            key=f"{prefix}-{n}",
            feed=f"feed-{n % 5}",
            url=f"https://example.org/{prefix}/{n}?utm_source=rss",
            canonical_url=f"https://example.org/{prefix}/{n}",
            title=f"Story {n} about {region}",
            lede="A sentence or two of lede. " * 3,
            content="<p>Body text.</p>" * 40,
            author="Staff",
            published=NOW - timedelta(minutes=n),
            tags=(region, "Analysis"),
        )
        rule = RuleMatch("tag", region, region, "tags", region)
        rows.append((item, Classification(region, rule, ())))
    return rows


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench(label: str, url: str) -> None:
    store = open_store(url)
    store.upgrade()
    try:
        rows = make_rows("batch", ITEMS)
        polls = [rows[i : i + POLL_BATCH] for i in range(0, ITEMS, POLL_BATCH)]
        new = timed(lambda: [store.upsert_items(p, NOW) for p in polls])
        again = timed(lambda: [store.upsert_items(p, NOW + timedelta(hours=1)) for p in polls])
        naive_rows = make_rows("naive", NAIVE_ITEMS)
        naive = timed(lambda: [store.upsert_items([r], NOW) for r in naive_rows])
        reads = 50
        listing = timed(lambda: [store.list_items(region="Europe", limit=25) for _ in range(reads)])
        streamed = timed(lambda: sum(1 for _ in store.iter_items()))
    finally:
        store.close()
    per_new, per_naive = new / ITEMS, naive / NAIVE_ITEMS
    print(f"[{label}]")
    lines = [
        (f"upsert new, {POLL_BATCH} per poll", f"{ITEMS / new:9.0f} items/s"),
        ("upsert unchanged re-poll", f"{ITEMS / again:9.0f} items/s"),
        ("upsert one item per call", f"{1 / per_naive:9.0f} items/s (baseline)"),
        ("ratio batched / baseline", f"{per_naive / per_new:9.1f}x"),
        ("list_items(region, 25)", f"{listing / reads * 1000:9.2f} ms/call"),
        ("iter_items, every row", f"{(ITEMS + NAIVE_ITEMS) / streamed:9.0f} items/s"),
    ]
    for name, value in lines:
        print(f"  {name:<28}{value}")


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"roundup_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")
    admin_url = os.environ.get("ROUNDUP_BENCH_POSTGRES_URL")
    if admin_url:
        with postgres_database(admin_url) as url:
            bench("postgresql", url)
    else:
        print("[postgresql] skipped: set ROUNDUP_BENCH_POSTGRES_URL to an admin URL")


if __name__ == "__main__":
    main()
