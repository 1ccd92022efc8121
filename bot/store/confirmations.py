"""Sign-ups and the queue of confirmation mails, in the store.

What it does: records a sign-up in one transaction (the caller's pure decision on
the mailbox's current row, then the row's change and, when a mail is due, its place
in the queue, together: never a pending subscriber without a queued mail); hands out
the queued mails that are due; claims one before it is sent (so two senders never
send the same mail, and a sender that dies mid-send leaves it to be retried); and
marks it sent or drops it.
What it does not do: decide what a sign-up does (`bot.web.flows.signup_action`),
render or send a mail (`bot.send.confirmations`), or pick retry times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import select, update

from bot.clock import ensure_utc
from bot.store.schema import subscribers
from bot.store.subscribers import (
    MAX_PAGE,
    SubscribersMixin,
    email_key,
    new_public_id,
    subscriber_from_row,
)
from bot.types import Subscriber, SubscriberStatus


class SignupAction(Enum):
    CREATE = "create"  # new address: add as PENDING, queue the confirmation
    RESEND = "resend"  # still PENDING: queue the confirmation again
    REOPEN = "reopen"  # left or bounced: back to PENDING, queue the confirmation
    NOTHING = "nothing"  # ACTIVE already, COMPLAINED, or mailed just now: no change


@dataclass(frozen=True)
class QueuedConfirmation:
    subscriber: Subscriber
    attempts: int  # tries made so far
    due_at: datetime

    @property
    def id(self) -> int:
        assert self.subscriber.id is not None
        return self.subscriber.id


class ConfirmationsMixin(SubscribersMixin):
    def record_signup(
        self,
        email: str,
        *,
        now: datetime,
        regions: tuple[str, ...] | None,
        source: str,
        decide: Callable[[Subscriber | None], SignupAction],
    ) -> SignupAction:
        """Apply a sign-up of `email` (normalised) as `decide` says, in one transaction.

        Every sign-up writes one row (a new subscriber, or the existing one's
        `last_signup_at` at least), so each takes about the same time whatever the
        mailbox's state: the answer's timing tells nothing about the address.
        """
        now = ensure_utc(now)
        key = email_key(email)
        where = subscribers.c.email_key == key
        with self._write() as conn:
            query = select(subscribers).where(where)
            if self.dialect == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            existing = None if row is None else subscriber_from_row(row)
            action = decide(existing)
            values: dict[str, Any] = {"last_signup_at": now}
            if action is not SignupAction.NOTHING:
                values.update(
                    regions=None if regions is None else list(regions),
                    updated_at=now,
                    confirm_due_at=now,
                    confirm_attempts=0,
                )
            if action is SignupAction.REOPEN:
                values.update(
                    status=SubscriberStatus.PENDING.value,
                    status_changed_at=now,
                    status_reason="signed up again",
                )
            if existing is None:
                inserted = conn.execute(
                    self._insert_ignore(),
                    {
                        **values,
                        "email": email,
                        "email_key": key,
                        "public_id": new_public_id(),
                        "status": SubscriberStatus.PENDING.value,
                        "source": source,
                        "signed_up_at": now,
                        "status_changed_at": now,
                        "updated_at": now,
                    },
                )
                # Lost a race with a sign-up of the same mailbox: that one mails it.
                return action if inserted.rowcount else SignupAction.NOTHING
            conn.execute(update(subscribers).where(where).values(**values))
        return action

    def due_confirmations(self, now: datetime, limit: int = 50) -> list[QueuedConfirmation]:
        """Queued confirmation mails of pending subscribers due by `now`, oldest first."""
        if not 0 < limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        query = (
            select(subscribers)
            .where(
                subscribers.c.confirm_due_at <= ensure_utc(now),
                subscribers.c.status == SubscriberStatus.PENDING.value,
            )
            .order_by(subscribers.c.confirm_due_at, subscribers.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            QueuedConfirmation(subscriber_from_row(r), r["confirm_attempts"], r["confirm_due_at"])
            for r in rows
        ]

    def claim_confirmation(
        self, queued: QueuedConfirmation, *, now: datetime, retry_in: timedelta
    ) -> bool:
        """Take `queued` for one try: counted, and due again `retry_in` later unless
        marked sent. False when another sender took it first or it changed."""
        stmt = (
            update(subscribers)
            .where(
                subscribers.c.id == queued.id,
                subscribers.c.confirm_attempts == queued.attempts,
                subscribers.c.confirm_due_at <= ensure_utc(now),
                subscribers.c.status == SubscriberStatus.PENDING.value,
            )
            .values(
                confirm_attempts=queued.attempts + 1,
                confirm_due_at=ensure_utc(now) + retry_in,
            )
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def end_confirmation(self, queued: QueuedConfirmation) -> None:
        """Take a claimed mail off the queue (sent, or given up); a sign-up queued
        again since then stays."""
        stmt = (
            update(subscribers)
            .where(
                subscribers.c.id == queued.id,
                subscribers.c.confirm_attempts == queued.attempts + 1,
            )
            .values(confirm_due_at=None, confirm_attempts=0)
        )
        with self._write() as conn:
            conn.execute(stmt)
