"""Telling ops: alerts and notices by email and into the log.

What it does: writes every notice to the log (a warning, with its kind, so JSON log
lines carry it as a field) and mails it, plain text, through the configured
transport (the outbox or SendGrid) to the ops users with an email address, the
editors too for the notices that ask them to act (an edition not approved at send
time), and every address in ``alerts.to``. A mail that cannot go is logged; it never
stops the job that raised the notice.
What it does not do: decide when to notify (`bot.scheduler.rules`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from bot.context import Context
from bot.errors import RoundupError
from bot.types import Role

log = logging.getLogger("bot.scheduler")


# Notices an editor can act on: they go to the editors as well as to ops.
FOR_EDITORS = frozenset({"unapproved"})


@dataclass(frozen=True)
class Notice:
    kind: str  # feed-down, feed-recovered, unapproved, missed, quiet-week, too-late
    subject: str
    text: str


def notify(ctx: Context, notice: Notice) -> int:
    """Log `notice` and mail it to whoever should hear it; the number of mails sent."""
    log.warning("%s: %s", notice.subject, notice.text, extra={"notice": notice.kind})
    recipients = recipients_of(ctx, notice.kind)
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


def recipients_of(ctx: Context, kind: str) -> list[str]:
    """The desk's enabled ops users (and editors, for `FOR_EDITORS`) with an email
    address, then ``alerts.to``; each address once, in that order."""
    roles = {Role.OPS, Role.EDITOR} if kind in FOR_EDITORS else {Role.OPS}
    users = [
        u.email for u in ctx.store.list_users() if u.email and not u.disabled and u.role in roles
    ]
    seen: dict[str, str] = {}
    for address in [*users, *ctx.config.alerts.to]:
        seen.setdefault(address.strip().lower(), address.strip())
    return list(seen.values())
