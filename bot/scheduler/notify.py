"""Telling ops: alerts and notices by email and into the log.

What it does: writes every notice to the log (a warning, with its kind, so JSON log
lines carry it as a field) and mails it, plain text, through the configured
transport (the outbox or SendGrid) to each address in ``alerts.to``. A mail that
cannot go is logged; it never stops the job that raised the notice.
What it does not do: decide when to notify (`bot.scheduler.rules`), or find the ops
users' addresses in a users table; until there is one, ``alerts.to`` names them.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from bot.context import Context
from bot.errors import RoundupError

log = logging.getLogger("bot.scheduler")


@dataclass(frozen=True)
class Notice:
    kind: str  # feed-down, feed-recovered, unapproved, missed, quiet-week, too-late
    subject: str
    text: str


def notify(ctx: Context, notice: Notice) -> int:
    """Log `notice` and mail it to ``alerts.to``; the number of mails sent."""
    log.warning("%s: %s", notice.subject, notice.text, extra={"notice": notice.kind})
    recipients = ctx.config.alerts.to
    if not recipients:
        return 0
    # Imported here: the send stack is only needed when there is someone to mail.
    from bot.send import Message, Recipient, send_transactional

    name = ctx.config.newsletter.name
    message = Message(
        subject=f"[{name}] {notice.subject}",
        text=f"{notice.text}\n\n-- roundup scheduler\n",
        html=f"<p>{html.escape(notice.text)}</p><p>-- roundup scheduler</p>",
        categories=("roundup-ops",),
    )
    sent = 0
    for address in recipients:
        try:
            send_transactional(ctx, message, Recipient(address))
            sent += 1
        except (RoundupError, OSError) as exc:
            log.error("could not mail the notice %r to %s: %s", notice.subject, address, exc)
    return sent
