"""Benchmark of a send: 1,000, 10,000 and 100,000 subscribers through the sendgrid
transport to the SendGrid-compatible server on 127.0.0.1.

The server is the test server (tests/sendgrid_server.py, which validates every
request against SendGrid's OpenAPI description, here 25 personalizations from each
end of a request and the rest of the body in full), in a child process so its work is
not counted here. Each size runs in a child process of its own, so its peak memory
is its own: the peak resident set (VmHWM) during the send, reset just before it.

Prints, per size: requests made, wall time, recipients a second end to end, the CPU
time of the sending process (the wall time also holds the server's validation of
each request, and the store's work), and the peak memory, with the ratios against
the smallest size (the time grows with the list, the memory must not). Then the
preparation alone, what our own CPU does per recipient (signed links, the request
body and its JSON), in recipients a second of CPU time, against a baseline
measured in the same run: the same preparation with itsdangerous' serializer built
per token and the headers filled by regex, as the send did before. Numbers only:
nothing here asserts.

Machine rows: ``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio-or-dash``.
``BENCH_SMOKE=1`` runs once at tiny sizes. Run: ``python bench/bench_send.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import edition as editions  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import Config, parse_config  # noqa: E402
from bot.context import open_context  # noqa: E402
from bot.render.tokens import fill  # noqa: E402
from bot.send import Message, Recipient, SendGridTransport  # noqa: E402
from bot.send.runner import send_edition  # noqa: E402
from bot.send.sendgrid_api import request_body  # noqa: E402
from bot.store.schema import subscribers  # noqa: E402
from bot.tokens import Purpose, email_digest, subscriber_links  # noqa: E402
from bot.types import Classification, Item, Subscriber, SubscriberStatus  # noqa: E402

SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
SIZES = (30, 120) if SMOKE else (1_000, 10_000, 100_000)
PREPARE = 200 if SMOKE else 10_000  # recipients prepared for the CPU figure
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


def row(figure: str, value: float, unit: str, ratio: float | None = None) -> None:
    shown = "-" if ratio is None else f"{ratio:.2f}x"
    print(f"BENCH\tsend\t{figure}\t{value:.6g}\t{unit}\t{shown}", flush=True)


def _serve(conn: Any) -> None:
    from tests.sendgrid_server import SendGridServer

    # Personalizations sampled (see tests/sendgrid_server.py): jsonschema on every
    # one of 100,000 recipients took minutes, and that is the server's time, not ours.
    with SendGridServer(keep_bodies=False, sample=25) as server:
        conn.send(server.url)
        conn.recv()  # until told to stop
        conn.send((server.request_count, len(server.invalid)))


@contextmanager
def server_process() -> Iterator[tuple[str, Any]]:
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


def fill_subscribers(engine: Any, count: int) -> None:
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


def stories(ctx: Any) -> None:
    store = ctx.store
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
    edition = editions.draft(store, ctx.config, NOW)
    editions.approve(store, ctx.config, edition.key, "bench", NOW)


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the peak resident set (Linux 4.0+); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _one_size(conn: Any, size: int, url: str, workdir: str, api_key: str) -> None:
    config = parse_config(CONFIG, "bench.yaml")
    database = Path(workdir) / f"send-{size}.db"
    with open_context(config, database_url=f"sqlite:///{database}", clock=FixedClock(NOW)) as ctx:
        stories(ctx)
        fill_subscribers(ctx.store.engine, size)
        key = ctx.store.list_editions()[0].key
        transport = SendGridTransport(ctx.config, api_key, host=url)
        reset = _reset_peak()
        started, started_cpu = time.perf_counter(), time.process_time()
        report = send_edition(ctx, key, transport=transport, secret=SECRET)
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        peak_mb = _memory_kb("VmHWM") / 1024
    conn.send(
        {
            "recipients": report.recipients,
            "requests": transport.requests,
            "batches": report.batches,
            "wall": wall,
            "cpu": cpu,
            "peak_mb": peak_mb,
            "peak_reset": reset,
            "ok": report.ok,
        }
    )


def run(size: int, url: str, workdir: str, api_key: str) -> dict[str, Any]:
    """One size in a child process of its own (its memory figure is its own)."""
    parent, child = multiprocessing.Pipe()
    context = multiprocessing.get_context("fork")
    proc = context.Process(target=_one_size, args=(child, size, url, workdir, api_key))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


# --- preparation alone --------------------------------------------------------


def _message() -> Message:
    return Message(
        subject="Weekly Round-Up",
        html="<p>... -roundup.unsubscribe_url- ... -roundup.email- ...</p>",
        text="... -roundup.unsubscribe_url- ...",
        headers={
            "List-Unsubscribe": "<-roundup.unsubscribe_url->, <mailto:leave@example.org>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        categories=("roundup",),
        custom_args={"edition": "2026-W48", "batch": "1"},
    )


def _people(count: int) -> list[Subscriber]:
    return [
        Subscriber(f"reader{n}@example.org", SubscriberStatus.ACTIVE, id=n + 1)
        for n in range(count)
    ]


def prepare_ours(config: Config, people: list[Subscriber]) -> int:
    """Links, recipients and the JSON of every request: what a send's CPU does."""
    message, size = _message(), 0
    for start in range(0, len(people), 1000):
        recipients = [
            Recipient(p.email, p.name, subscriber_links(config, SECRET, p, NOW))
            for p in people[start : start + 1000]
        ]
        size += len(json.dumps(request_body(config, message, recipients)))
    return size


def prepare_baseline(config: Config, people: list[Subscriber]) -> int:
    """The same with itsdangerous' serializer built per token and headers filled by
    regex per recipient, as the send prepared before."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    def token(purpose: Purpose, person: Subscriber) -> str:
        stamp = int(NOW.timestamp())

        class Stamped(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        salt = f"roundup.link.{purpose.value}"
        serializer = URLSafeTimedSerializer(SECRET, salt=salt, signer=Stamped)
        made: str = serializer.dumps([person.id, email_digest(SECRET, person.email)])
        return made

    message, size = _message(), 0
    base = "https://news.example.org"
    for start in range(0, len(people), 1000):
        personalizations = []
        for p in people[start : start + 1000]:
            values = {
                "unsubscribe_url": f"{base}/unsubscribe/{token(Purpose.UNSUBSCRIBE, p)}",
                "preferences_url": f"{base}/preferences/{token(Purpose.PREFERENCES, p)}",
                "email": p.email,
            }
            personalizations.append(
                {
                    "to": [{"email": p.email}],
                    "substitutions": {f"-roundup.{k}-": v for k, v in values.items()},
                    "headers": {
                        "List-Unsubscribe": fill(message.headers["List-Unsubscribe"], values)
                    },
                    "custom_args": dict(message.custom_args),
                }
            )
        size += len(json.dumps({"personalizations": personalizations, "subject": message.subject}))
    return size


def cpu_rate(fn: Callable[[Config, list[Subscriber]], int], people: list[Subscriber]) -> float:
    config = parse_config(CONFIG, "bench.yaml")
    fn(config, people[:1000])  # warm up
    best = float("inf")
    for _ in range(1 if SMOKE else 3):
        started = time.process_time()
        fn(config, people)
        best = min(best, time.process_time() - started)
    return len(people) / max(best, 1e-9)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, server_process() as (url, conn):
        from tests.sendgrid_server import API_KEY  # the key the test server checks

        for size in SIZES:
            result = run(size, url, tmp, API_KEY)
            rows.append((size, result))
            print(
                f"{size:>7} subscribers: {result['requests']} requests, "
                f"{result['recipients']} recipients in {result['batches']} batches, "
                f"{result['wall']:.2f} s ({result['recipients'] / result['wall']:,.0f}/s), "
                f"{result['cpu']:.2f} s of our CPU, "
                f"peak RSS {result['peak_mb']:.0f} MB"
                + ("" if result["peak_reset"] else " (whole process)")
                + f", ok={result['ok']}",
                flush=True,
            )
        conn.send("stop")
        served, invalid = conn.recv()
    print(f"server: {served} requests answered, {invalid} failed SendGrid's schema")
    base_size, base = rows[0]
    for size, result in rows:
        grow = size / base_size
        row(f"{size} subscribers: requests", result["requests"], "requests")
        row(f"{size} subscribers: wall", result["wall"], "s", result["wall"] / base["wall"])
        row(f"{size} subscribers: sent", result["recipients"] / result["wall"], "recipients/s")
        row(
            f"{size} subscribers: CPU of the sender",
            result["cpu"],
            "s",
            result["cpu"] / base["cpu"],
        )
        row(
            f"{size} subscribers: peak RSS",
            result["peak_mb"],
            "MB",
            result["peak_mb"] / base["peak_mb"],
        )
        if size != base_size:
            print(
                f"{grow:g}x the subscribers: {result['wall'] / base['wall']:.2f}x the time, "
                f"{result['peak_mb'] / base['peak_mb']:.2f}x the peak memory"
            )

    people = _people(PREPARE)
    ours = cpu_rate(prepare_ours, people)
    baseline = cpu_rate(prepare_baseline, people)
    print(
        f"prepared (CPU): {ours:,.0f} recipients/s; baseline (itsdangerous per token, "
        f"regex fill) {baseline:,.0f}/s; {ours / baseline:.1f}x"
    )
    row("prepared (CPU)", ours, "recipients/s", ours / baseline)
    row("prepared, baseline", baseline, "recipients/s", 1.0)


if __name__ == "__main__":
    main()
