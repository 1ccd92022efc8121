"""Webhook events already applied: the memory that makes a replayed post a no-op.

What it does: records a provider event's id (SendGrid's ``sg_event_id``) with its
kind, address and batch once applied, ignoring a second record of the same id on
both backends, and tells whether an id was seen.
What it does not do: decide what an event means or apply it (`bot.send.webhook`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import webhook_events

_MAX_KIND = 100  # an event name longer than this is not one of SendGrid's


class WebhookEventsMixin(StoreBase):
    def webhook_event_seen(self, event_id: str) -> bool:
        """True when an event with this id was recorded."""
        query = select(webhook_events.c.event_id).where(webhook_events.c.event_id == event_id)
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def record_webhook_event(
        self, event_id: str, event: str, email: str | None, batch_id: int | None, now: datetime
    ) -> bool:
        """Record an applied event; False when its id was already recorded."""
        values = {
            "event_id": event_id,
            "event": event[:_MAX_KIND],
            "email": email,
            "batch_id": batch_id,
            "received_at": ensure_utc(now),
        }
        stmt = (
            self._insert(webhook_events)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(webhook_events.c.event_id)
        )
        with self._write() as conn:
            return conn.execute(stmt).first() is not None
