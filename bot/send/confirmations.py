"""Sending the queued confirmation mails of sign-ups (double opt-in), outside any request.

What it does: takes the confirmation mails that are due from the store's queue,
claims each (so two senders never send one mail twice, and one that dies mid-send
leaves it to be tried again), renders it with a fresh signed link, sends it through
the transport `roundup send` would use, and takes it off the queue once the
transport accepted it. A failed try is retried later (`retry_delay`, a pure
function), and given up after `MAX_ATTEMPTS` (the link would be near its end anyway).
`roundup serve` runs `send_due_confirmations` in the background; a scheduler job
can call it the same way.
What it does not do: decide who is mailed (a sign-up queues the mail:
`bot.web.flows`), or run a loop of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.context import Context
from bot.errors import RoundupError
from bot.render.transactional import render_confirmation
from bot.send.message import Message, Recipient, Transport
from bot.send.transports import make_transport
from bot.store.confirmations import QueuedConfirmation
from bot.tokens import confirm_url

log = logging.getLogger(__name__)

CONFIRM_CATEGORY = "confirm"
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
BATCH = 50  # mails per call: a call stays short; the next call takes the rest


@dataclass(frozen=True)
class ConfirmationReport:
    sent: int = 0
    failed: int = 0  # tried and not accepted; tried again later
    dropped: int = 0  # failed for the last time: taken off the queue


def retry_delay(attempt: int) -> timedelta | None:
    """How long after try number `attempt` (1 is the first) a failed mail is tried
    again: doubling from a minute up to an hour; None after the last try."""
    if attempt >= MAX_ATTEMPTS:
        return None
    delay: timedelta = FIRST_RETRY * 2 ** (attempt - 1)
    return min(delay, LONGEST_RETRY)


def confirmation_message(ctx: Context, secret: str, queued: QueuedConfirmation) -> Message:
    subscriber = queued.subscriber
    url = confirm_url(ctx.config, secret, subscriber, ctx.clock.now())
    email = render_confirmation(ctx.config, url, ctx.config.subscriptions.confirm_max_age)
    return Message(
        subject=email.subject, html=email.html, text=email.text, categories=(CONFIRM_CATEGORY,)
    )


def send_due_confirmations(ctx: Context, secret: str, limit: int = BATCH) -> ConfirmationReport:
    """Send the confirmation mails due now (at most `limit`); what happened."""
    queued = ctx.store.due_confirmations(ctx.clock.now(), limit)
    if not queued:
        return ConfirmationReport()
    sent = failed = dropped = 0
    transport = make_transport(ctx)
    try:
        for item in queued:
            attempt = item.attempts + 1
            # Claimed until the retry time: a sender that dies mid-send leaves the
            # mail to the next try then.
            lease = retry_delay(attempt) or LONGEST_RETRY
            if not ctx.store.claim_confirmation(item, now=ctx.clock.now(), retry_in=lease):
                continue  # another sender has it, or the sign-up changed
            error = _send_one(ctx, secret, transport, item)
            if error is None:
                sent += 1
                ctx.store.end_confirmation(item)
            elif retry_delay(attempt) is None:
                dropped += 1
                ctx.store.end_confirmation(item)
                log.error(
                    "gave up the confirmation mail of subscriber %s after %d tries: %s",
                    item.subscriber.public_id,
                    attempt,
                    error,
                )
            else:
                failed += 1
                log.warning(
                    "confirmation mail of subscriber %s not sent (try %d), retried in %s: %s",
                    item.subscriber.public_id,
                    attempt,
                    lease,
                    error,
                )
    finally:
        transport.close()
    return ConfirmationReport(sent=sent, failed=failed, dropped=dropped)


def _send_one(
    ctx: Context, secret: str, transport: Transport, item: QueuedConfirmation
) -> str | None:
    """None when the transport accepted the mail; otherwise why not."""
    sub = item.subscriber
    try:
        result = transport.send(
            confirmation_message(ctx, secret, item), [Recipient(email=sub.email, name=sub.name)]
        )
    except RoundupError as exc:
        return str(exc)
    if result.accepted:
        return None
    return result.error or result.state.value
