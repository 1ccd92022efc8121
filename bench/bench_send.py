"""Benchmark of a send: 10,000, 50,000 and 100,000 subscribers through the sendgrid
transport to the SendGrid-compatible server on 127.0.0.1 (the test server, in a child
process so its bookkeeping is not counted here; it validates every request against
SendGrid's OpenAPI description).

Prints, per size: requests made, wall time, recipients per second, the peak of the
Python memory traced during the send (tracemalloc), and the ratios against the
smallest size: the time should grow with the list, the peak should not. The outbox is
not used. Numbers only: nothing here asserts.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import edition as editions  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import parse_config  # noqa: E402
from bot.context import open_context  # noqa: E402
from bot.send import SendGridTransport  # noqa: E402
from bot.send.runner import send_edition  # noqa: E402
from bot.store.schema import subscribers  # noqa: E402
from bot.types import Classification, Item  # noqa: E402

SIZES = (10_000, 50_000, 100_000)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "bench-secret-" + "x" * 40
CONFIG = """
newsletter:
  publication: Bench Statecraft
  site_url: https://example.org
  base_url: https://news.example.org
  sender: {email: news@example.org, name: The Round-Up}
  postal_address: 1 Example Street, Washington, DC
  unsubscribe_mailto: leave@example.org
feeds:
  - {name: main, url: "https://example.org/feed"}
regions:
  - name: Middle East
  - name: Europe
  - name: Asia-Pacific
send:
  batch_size: 1000
  request_timeout: 60
"""


def _serve(conn: object) -> None:
    from tests.sendgrid_server import SendGridServer

    with SendGridServer(keep_bodies=False) as server:
        conn.send(server.url)  # type: ignore[attr-defined]
        conn.recv()  # type: ignore[attr-defined]  # until told to stop
        conn.send((server.request_count, len(server.invalid)))  # type: ignore[attr-defined]


@contextmanager
def server_process() -> Iterator[tuple[str, object]]:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    url = parent.recv()
    try:
        yield url, parent
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def fill_subscribers(ctx_store: object, count: int) -> None:
    engine = ctx_store.engine  # type: ignore[attr-defined]
    regions = (None, None, ["Middle East"], ["Europe"], ["Middle East", "Europe"])
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            conn.execute(
                insert(subscribers),
                [
                    {
                        "email": f"reader{n}@example.org",
                        "email_key": f"reader{n}@example.org",
                        "public_id": f"bench-{n}",
                        "name": None,
                        "status": "active",
                        "regions": regions[n % len(regions)],
                        "source": "bench",
                        "signed_up_at": NOW,
                        "updated_at": NOW,
                    }
                    for n in range(start, min(count, start + 5000))
                ],
            )


def stories(ctx: object) -> None:
    store = ctx.store  # type: ignore[attr-defined]
    for n, region in enumerate(["Middle East", "Middle East", "Europe", "Asia-Pacific"]):
        url = f"https://example.org/story-{n}"
        item = Item(
            key=f"story-{n}",
            feed="main",
            url=url,
            canonical_url=url,
            title=f"Story {n} from {region}",
            lede=f"Lede {n}.",
            published=NOW - timedelta(hours=n + 1),
        )
        store.upsert_items([(item, Classification(region=region, rule=None))], NOW)
    edition = editions.draft(store, ctx.config, NOW)  # type: ignore[attr-defined]
    editions.approve(store, ctx.config, edition.key, "bench", NOW)  # type: ignore[attr-defined]


def run(size: int, url: str, workdir: Path, api_key: str) -> dict[str, float]:
    config = parse_config(CONFIG, "bench.yaml")
    database = workdir / f"send-{size}.db"
    with open_context(config, database_url=f"sqlite:///{database}", clock=FixedClock(NOW)) as ctx:
        stories(ctx)
        fill_subscribers(ctx.store, size)
        key = ctx.store.list_editions()[0].key
        transport = SendGridTransport(ctx.config, api_key, host=url)
        tracemalloc.start()
        started = time.perf_counter()
        report = send_edition(ctx, key, transport=transport, secret=SECRET)
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "size": size,
        "recipients": report.recipients,
        "requests": transport.requests,
        "accepted": report.accepted,
        "batches": report.batches,
        "wall": wall,
        "peak_mb": peak / 1e6,
        "ok": float(report.ok),
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, server_process() as (url, conn):
        # The test server checks the bearer key it was built with.
        from tests.sendgrid_server import API_KEY

        for size in SIZES:
            row = run(size, url, Path(tmp), API_KEY)
            rows.append(row)
            print(
                f"{size:>7} subscribers: {int(row['requests'])} requests, "
                f"{int(row['recipients'])} recipients in {int(row['batches'])} batches, "
                f"{row['wall']:.1f} s ({row['recipients'] / row['wall']:,.0f}/s), "
                f"peak traced memory {row['peak_mb']:.1f} MB, ok={bool(row['ok'])}",
                flush=True,
            )
        conn.send("stop")  # type: ignore[attr-defined]
        served, invalid = conn.recv()  # type: ignore[attr-defined]
    base = rows[0]
    print(f"server: {served} requests answered, {invalid} failed SendGrid's schema")
    for row in rows[1:]:
        print(
            f"{int(row['size']) // int(base['size'])}x the subscribers: "
            f"{row['wall'] / base['wall']:.2f}x the time, "
            f"{row['peak_mb'] / base['peak_mb']:.2f}x the peak memory"
        )


if __name__ == "__main__":
    main()
