"""Benchmark of the store: the poll's writes and the send's ledger, on SQLite and PostgreSQL.

Poll: a feed's stories (50 a poll) and its new state in one transaction with bulk
statements, against one transaction per item (the baseline); an unchanged re-poll;
reads. Send: planning every recipient of an edition into batches of 1,000 (one
transaction, streamed), then claiming and marking each batch as a send does.
Prints items and recipients per second and ratios on SQLite (a temporary file) and
on PostgreSQL: `ROUNDUP_BENCH_POSTGRES_URL` (an admin URL, as for the tests),
default postgresql://postgres@127.0.0.1:5432/test; skipped with a line when it
cannot be reached. BENCH_SMOKE=1: tiny sizes. Numbers only: nothing here asserts.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import row

from bot.store import Store, open_store
from bot.store.ledger import Planned
from bot.types import BatchState, Classification, Item, RuleMatch

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ITEMS = 100 if SMOKE else 2000  # stored by the batched path
NAIVE_ITEMS = 20 if SMOKE else 200  # stored one transaction per item (the baseline)
POLL_BATCH = 50  # items per feed poll
RECIPIENTS = 2000 if SMOKE else 50_000  # planned into the send's ledger
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
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
        store.sync_feeds([(f"feed-{n}", f"https://example.org/{n}") for n in range(5)], NOW)
        state = store.feed_states()[0]
        new = timed(lambda: [store.upsert_items(p, NOW, feed_state=state) for p in polls])
        again = timed(lambda: [store.upsert_items(p, NOW + timedelta(hours=1)) for p in polls])
        naive_rows = make_rows("naive", NAIVE_ITEMS)
        naive = timed(lambda: [store.upsert_items([r], NOW) for r in naive_rows])
        reads = 50
        listing = timed(lambda: [store.list_items(region="Europe", limit=25) for _ in range(reads)])
        streamed = timed(lambda: sum(1 for _ in store.iter_items()))
        planned, batches = send_ledger(store)
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
    print(f"  {'plan the send':<28}{RECIPIENTS / planned:9.0f} recipients/s")
    print(f"  {'claim + mark each batch':<28}{batches:9.0f} batches/s")
    stage = f"store {label}"
    row(
        stage,
        "poll: upsert new + state, one tx a feed",
        ITEMS / new,
        "items/s",
        per_naive / per_new,
    )
    row(stage, "poll: one item per transaction (baseline)", 1 / per_naive, "items/s", 1.0)
    row(stage, "poll: unchanged re-poll", ITEMS / again, "items/s")
    row(stage, "read: list_items(region, 25)", listing / reads * 1000, "ms")
    row(stage, "send: plan the ledger", RECIPIENTS / planned, "recipients/s")
    row(stage, "send: claim + mark a batch", batches, "batches/s")


def send_ledger(store: Store) -> tuple[float, float]:
    """Seconds to plan RECIPIENTS into batches; batches claimed and marked a second."""
    regions = (("Middle East",), ("Europe",), ("Middle East", "Europe"))
    people = (Planned(n + 1, f"reader{n}@example.org", regions[n % 3]) for n in range(RECIPIENTS))
    start = time.perf_counter()
    store.plan_batches("2026-W48", people, batch_size=1000, now=NOW)
    planned = time.perf_counter() - start
    ids = [b.id for b in store.list_batches("2026-W48")]
    start = time.perf_counter()
    for batch_id in ids:
        store.claim_batch(batch_id, transport="bench", now=NOW)
        store.mark_batch(batch_id, BatchState.ACCEPTED, now=NOW, message_id=f"m{batch_id}")
    return planned, len(ids) / (time.perf_counter() - start)


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
    admin_url = os.environ.get("ROUNDUP_BENCH_POSTGRES_URL") or DEFAULT_PG
    try:
        with postgres_database(admin_url) as url:
            bench("postgresql", url)
    except OperationalError as exc:
        print(f"[postgresql] skipped: cannot reach {make_url(admin_url)!r}: {exc.orig}")


if __name__ == "__main__":
    main()
