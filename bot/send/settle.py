"""Ambiguous batches settled by evidence, and which of them a retry may resend.

What it does: after a crash, looks for proof of what happened to each ambiguous
batch. A SendGrid batch is accepted when the event webhook recorded a
``processed``, ``delivered``, ``deferred``, ``bounce`` or ``dropped`` event carrying
its batch id (SendGrid only reports those for mail it took). An outbox batch is
settled by the mbox itself: its Message-IDs there mean it was written (accepted);
none there means it never was (failed, so a plain resume writes it). Decides, as a
pure function of `now`, which still-ambiguous batches `--retry-ambiguous` may resend
(those older than ``send.settle_after``, when evidence would have arrived).
What it does not do: resend anything (`bot.send.runner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.clock import ensure_utc
from bot.context import Context
from bot.send.outbox import OutboxTransport
from bot.send.webhook import SETTLING_EVENTS
from bot.types import Batch, BatchState


@dataclass(frozen=True)
class Settled:
    accepted: int = 0  # ambiguous batches proven accepted
    not_sent: int = 0  # ambiguous outbox batches proven never written


def settle(ctx: Context, edition_key: str) -> Settled:
    """Settle the edition's ambiguous batches by the evidence there is."""
    store, now = ctx.store, ctx.clock.now()
    accepted = len(store.settle_from_events(edition_key, SETTLING_EVENTS, now=now))
    outbox = [
        b
        for b in store.list_batches(edition_key, [BatchState.AMBIGUOUS])
        if b.transport == "outbox"
    ]
    not_sent = 0
    if outbox:
        box = OutboxTransport(ctx.config, Path(ctx.config.send.outbox_dir), ctx.clock)
        written = box.batches_written(edition_key, [b.id for b in outbox])
        for batch in outbox:
            if written.get(batch.id):
                accepted += int(store.confirm_batch_delivered(batch.id, now))
            else:
                not_sent += int(
                    store.mark_not_sent(
                        batch.id, now=now, error="not in the outbox: it was never written"
                    )
                )
    return Settled(accepted, not_sent)


def retry_ready(
    batches: Sequence[Batch], now: datetime, settle_after: timedelta
) -> tuple[list[Batch], list[Batch]]:
    """Ambiguous batches split into (may be resent now, still waiting for evidence).

    A batch waits `settle_after` from its request (the claim, recorded as its
    `updated_at`) before it may be resent.
    """
    ready: list[Batch] = []
    waiting: list[Batch] = []
    for batch in batches:
        since = ensure_utc(batch.updated_at) if batch.updated_at else None
        if since is None or since + settle_after <= ensure_utc(now):
            ready.append(batch)
        else:
            waiting.append(batch)
    return ready, waiting


def settle_time(batches: Sequence[Batch], settle_after: timedelta) -> datetime | None:
    """When the last of `batches` may be resent."""
    times = [ensure_utc(b.updated_at) + settle_after for b in batches if b.updated_at]
    return max(times) if times else None
