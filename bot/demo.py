"""`roundup demo`: the whole flow on bundled sample feeds, fully offline.

It serves the sample feeds in `bot/samples/` from a throwaway HTTP server on
127.0.0.1 (so the real fetch path runs: conditional GET, parsing, dedupe), points
a copy of the config at it, uses a fresh SQLite database under `var/`, and runs
the pipeline: poll, draft this week's edition, render it, approve it, add a few
sample subscribers and send it to them through the outbox (an mbox file under
`var/outbox/`; links are signed with a throwaway key unless ROUNDUP_SECRET_KEY is
set). It writes nothing outside `var/` and never reaches the internet.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bot import edition as editions
from bot import pipeline
from bot.clock import Clock, SystemClock
from bot.config import Config, FeedConfig
from bot.context import Context, open_context
from bot.send import OutboxTransport
from bot.send.runner import SendReport
from bot.tokens import SECRET_ENV
from bot.types import Edition, StoredItem, SubscriberStatus

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_FEEDS = {
    "responsible-statecraft": "responsible-statecraft.xml",
    "rs-middle-east": "middle-east.xml",
}
_AGO = re.compile(r"\{\{ago:((?:\d+[dhm])+)\}\}")
_UNIT = {"d": "days", "h": "hours", "m": "minutes"}


def sample_body(name: str, clock: Clock) -> bytes:
    """A sample feed with its {{ago:...}} markers turned into dates before now."""
    now = clock.now()

    def date(match: re.Match[str]) -> str:
        parts = re.findall(r"(\d+)([dhm])", match.group(1))
        delta = timedelta(**{_UNIT[u]: int(n) for n, u in parts})
        return format_datetime(now - delta, usegmt=True)

    text = (SAMPLES / name).read_text(encoding="utf-8")
    return _AGO.sub(date, text).encode("utf-8")


@contextmanager
def sample_server(clock: Clock) -> Iterator[str]:
    """Serve the sample feeds on 127.0.0.1; yields the base URL."""
    bodies = {f"/{file}": sample_body(file, clock) for file in SAMPLE_FEEDS.values()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the demo prints its own summary

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def demo_config(base: Config, server_url: str) -> Config:
    """The config with its feeds replaced by the local sample feeds."""
    feeds = tuple(
        FeedConfig(name=name, url=f"{server_url}/{file}") for name, file in SAMPLE_FEEDS.items()
    )
    return base.model_copy(update={"feeds": feeds})


@dataclass(frozen=True)
class DemoResult:
    poll: pipeline.PollReport
    items: list[StoredItem]
    edition: Edition
    html_path: Path
    text_path: Path
    database: Path
    send: SendReport | None = None
    mbox_path: Path | None = None


def run_demo(base: Config, var_dir: Path = Path("var"), clock: Clock | None = None) -> DemoResult:
    clock = clock or SystemClock()
    var_dir.mkdir(parents=True, exist_ok=True)
    database = var_dir / "demo.db"
    outbox = var_dir / "outbox"
    for stale in (database, *var_dir.glob("demo.db-*"), *outbox.glob("*.mbox*")):
        stale.unlink(missing_ok=True)  # each demo starts from nothing
    with sample_server(clock) as url:
        ctx = open_context(
            demo_config(base, url), database_url=f"sqlite:///{database}", clock=clock
        )
        with ctx:
            return _run(ctx, var_dir, database)


def _run(ctx: Context, var_dir: Path, database: Path) -> DemoResult:
    report = pipeline.poll(ctx, force=True)
    items = ctx.store.list_items()
    edition = pipeline.draft(ctx)
    rendered = pipeline.render(ctx, edition)
    out = var_dir / "demo"
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / f"roundup-{edition.key}.html"
    text_path = out / f"roundup-{edition.key}.txt"
    html_path.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(rendered.text, encoding="utf-8")
    if not any(not e.excluded for e in edition.entries):
        return DemoResult(report, items, edition, html_path, text_path, database)
    sent, mbox = _send(ctx, edition, var_dir / "outbox")
    edition = ctx.store.get_edition(edition.key) or edition
    return DemoResult(report, items, edition, html_path, text_path, database, sent, mbox)


def demo_subscribers(ctx: Context) -> None:
    """A few sample readers: two want everything, one only the first region."""
    now = ctx.clock.now()
    first = ctx.config.regions[0].name
    people = [
        ("reader@example.org", "Sample Reader", None),
        ("analyst@example.org", "Sample Analyst", None),
        ("regional@example.org", "Regional Reader", (first,)),
    ]
    for email, name, regions in people:
        ctx.store.add_subscriber(
            email,
            now=now,
            status=SubscriberStatus.ACTIVE,
            regions=regions,
            name=name,
            source="demo",
        )


def _send(ctx: Context, edition: Edition, outbox_dir: Path) -> tuple[SendReport, Path]:
    """Approve the demo edition and send it to the sample readers through the outbox."""
    editions.approve(ctx.store, ctx.config, edition.key, "demo", ctx.clock.now())
    demo_subscribers(ctx)
    secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(48)
    outbox = OutboxTransport(ctx.config, outbox_dir, ctx.clock)
    try:
        sent = pipeline.send(ctx, edition.key, transport=outbox, secret=secret)
    finally:
        outbox.close()
    return sent, outbox_dir / f"{edition.key}.mbox"
