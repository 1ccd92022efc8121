"""Test support for the scheduler's tests: a config, stories, subscribers, an edition.

The schedule is the shipped one (draft thu 09:00, send fri 07:00, America/New_York,
lease_ttl 60s); week 2026-W48's draft time is 2026-11-26 14:00 UTC and its send
time 2026-11-27 12:00 UTC.
"""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import edition as editions
from bot.context import Context
from bot.types import Classification, Item, SubscriberStatus

KEY = "2026-W48"
DRAFT_AT = datetime(2026, 11, 26, 14, tzinfo=UTC)  # thu 09:00 EST
SEND_AT = datetime(2026, 11, 27, 12, tzinfo=UTC)  # fri 07:00 EST
SECRET = "s" * 40
CONFIG = """
newsletter:
  publication: Test Statecraft
  site_url: https://example.org
  base_url: https://news.example.org
  sender: {email: news@example.org, name: The Round-Up}
  postal_address: 1 Example Street, Washington, DC
  timezone: America/New_York
feeds:
  - {name: main, url: "http://127.0.0.1:9/feed.xml"}
regions:
  - name: Middle East
  - name: Europe
schedule:
  min_stories: 2
alerts:
  feed_failures: 3
  to: [ops@example.org]
send:
  batch_size: BATCH
  transport: TRANSPORT
  outbox_dir: OUTBOX
  max_attempts: 2
  retry_base: 1
  retry_max: 2
"""


def write_config(
    tmp_path: Path, *, batch_size: int = 2, transport: str = "outbox", extra: str = ""
) -> Path:
    path = tmp_path / "config.yaml"
    text = (
        CONFIG.replace("OUTBOX", str(tmp_path / "outbox"))
        .replace("BATCH", str(batch_size))
        .replace("TRANSPORT", transport)
    )
    path.write_text(text + extra, encoding="utf-8")
    return path


def add_stories(ctx: Context, count: int, at: datetime, prefix: str = "story") -> None:
    for n in range(count):
        url = f"https://example.org/{prefix}-{n}"
        item = Item(
            key=f"{prefix}-{n}",
            feed="main",
            url=url,
            canonical_url=url,
            title=f"{prefix.title()} story number {n}, told at some length",
            lede=f"Lede {n}.",
            published=at - timedelta(hours=n + 1),
        )
        region = "Middle East" if n % 2 else "Europe"
        ctx.store.upsert_items([(item, Classification(region=region, rule=None))], at)


def add_subscribers(ctx: Context, count: int) -> list[str]:
    emails = [f"reader{n}@example.org" for n in range(count)]
    for email in emails:
        ctx.store.add_subscriber(email, now=ctx.clock.now(), status=SubscriberStatus.ACTIVE)
    return emails


def approve(ctx: Context, key: str = KEY) -> None:
    editions.approve(ctx.store, ctx.config, key, "editor", ctx.clock.now())


def outbox(tmp_path: Path, name: str = KEY) -> list[str]:
    """The To: of every message in an mbox of the outbox, in order."""
    path = tmp_path / "outbox" / f"{name}.mbox"
    if not path.exists():
        return []
    return [str(m["To"]) for m in mailbox.mbox(str(path))]


def notices(tmp_path: Path) -> list[str]:
    path = tmp_path / "outbox" / "transactional.mbox"
    if not path.exists():
        return []
    return [str(m["Subject"]) for m in mailbox.mbox(str(path))]
