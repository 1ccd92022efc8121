"""What `roundup status` shows: the scheduler, the current edition, failing feeds, the last send.

What it does: reads the store into one JSON-ready mapping with fixed names
(``scheduler.holder`` as host and pid, ``scheduler.pid``, ``scheduler.until``,
``scheduler.jobs``, ``edition.key``, ``edition.state``, ``failing_feeds``,
``last_send``). The draft and send times come from the same rules the scheduler
fires by; the poll's from what the running scheduler noted.
What it does not do: print (the CLI does), or change anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import ensure_utc
from bot.context import Context
from bot.edition.weeks import week_key
from bot.lease import Holder
from bot.scheduler.rules import Weekly
from bot.types import BatchState, EditionState

LEASE = "scheduler"


def snapshot(ctx: Context) -> dict[str, Any]:
    now = ctx.clock.now()
    return {
        "now": now.isoformat(),
        "scheduler": _scheduler(ctx, now),
        "edition": _edition(ctx, now),
        "failing_feeds": _failing(ctx),
        "last_send": _last_send(ctx),
    }


def _scheduler(ctx: Context, now: datetime) -> dict[str, Any]:
    lease = ctx.store.lease_state(LEASE)
    live = lease is not None and ensure_utc(lease.expires_at) > ensure_utc(now)
    holder = Holder.parse(lease.holder) if lease and live else None
    tz = ctx.config.newsletter.timezone
    jobs: dict[str, str | None] = {}
    note = ctx.store.schedule_note()
    if note is not None and live and lease is not None and note.holder == lease.holder:
        jobs.update({str(k): str(v) for k, v in note.detail.items()})
    for name in ("draft", "send"):
        spec = Weekly.parse(getattr(ctx.config.schedule, name), tz)
        jobs[name] = spec.next_after(now).isoformat()
    return {
        "running": live,
        "holder": {"host": holder.host, "pid": holder.pid} if holder else None,
        "pid": holder.pid if holder else None,
        "since": lease.acquired_at.isoformat() if lease and live else None,
        "until": lease.expires_at.isoformat() if lease and live else None,
        "jobs": [{"name": k, "next_run": v} for k, v in sorted(jobs.items())],
    }


def _edition(ctx: Context, now: datetime) -> dict[str, Any] | None:
    key = week_key(now, ctx.config.newsletter.timezone)
    edition = ctx.store.get_edition(key)
    if edition is None:
        editions = ctx.store.list_editions()
        edition = editions[0] if editions else None
    if edition is None:
        return None
    run = ctx.store.get_job_run("send", edition.key)
    return {
        "key": edition.key,
        "state": edition.state.value,
        "missed": run is not None and run.state.value == "missed",
        "stories": sum(1 for e in edition.entries if not e.excluded),
        "approved_by": edition.approved_by,
    }


def _failing(ctx: Context) -> list[dict[str, Any]]:
    flags = ctx.store.feed_flags()
    out = []
    for feed in ctx.store.feed_states():
        flag = flags.get(feed.name)
        if feed.consecutive_failures == 0 and not (flag and flag.paused):
            continue
        out.append(
            {
                "name": feed.name,
                "failures": feed.consecutive_failures,
                "last_error": feed.last_error,
                "last_success": feed.last_success.isoformat() if feed.last_success else None,
                "alerted": bool(flag and flag.alerted_at),
                "paused": bool(flag and flag.paused),
            }
        )
    return out


def _last_send(ctx: Context) -> dict[str, Any] | None:
    states = [EditionState.SENDING, EditionState.SENT]
    for edition in ctx.store.list_editions(states=states):
        summary = ctx.store.ledger_summary(edition.key)
        return {
            "edition": edition.key,
            "state": edition.state.value,
            "sent_at": edition.sent_at.isoformat() if edition.sent_at else None,
            "recipients": summary.total_recipients,
            "batches": summary.total_batches,
            **{state.value: summary.count(state) for state in BatchState},
        }
    return None
