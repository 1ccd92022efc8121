"""Telling editors that a draft is ready for review.

What it does: mails every enabled desk user with an email address a short note
(plain text and a minimal HTML part) with the link to the edition page, through
the configured transport (`bot.send.send_transactional`). A failure to notify is
logged and counted, never raised: the draft is there whether or not the note went.
What it does not do: decide when a draft is ready (`bot.pipeline.draft` calls it
when it creates one) or render the round-up.
"""

from __future__ import annotations

import logging

from markupsafe import escape

from bot.context import Context
from bot.errors import RoundupError
from bot.send import send_transactional
from bot.send.message import Message, Recipient
from bot.types import Edition

log = logging.getLogger(__name__)
CATEGORY = "desk-notification"


def desk_url(ctx: Context, edition: Edition) -> str | None:
    base = ctx.config.newsletter.base_url
    return f"{str(base).rstrip('/')}/desk/editions/{edition.key}" if base else None


def draft_ready_message(ctx: Context, edition: Edition, url: str) -> Message:
    name = ctx.config.newsletter.name
    stories = sum(1 for x in edition.entries if not x.excluded)
    text = (
        f"The draft of {name} {edition.key} is ready for review ({stories} stories).\n\n"
        f"Review, edit and approve it here:\n{url}\n"
    )
    html = (
        f"<p>The draft of {escape(name)} {escape(edition.key)} is ready for review "
        f"({stories} stories).</p>"
        f'<p><a href="{escape(url)}">Review, edit and approve it</a></p>'
    )
    return Message(
        subject=f"Draft ready for review: {name} {edition.key}",
        html=html,
        text=text,
        categories=(CATEGORY,),
    )


def notify_draft_ready(ctx: Context, edition: Edition) -> int:
    """Mail the editors; how many notes were accepted."""
    editors = [u for u in ctx.store.list_users() if not u.disabled and u.email]
    if not editors:
        return 0
    url = desk_url(ctx, edition)
    if url is None:
        log.warning("newsletter.base_url is not set: editors were not told about %s", edition.key)
        return 0
    message = draft_ready_message(ctx, edition, url)
    sent = 0
    for user in editors:
        assert user.email is not None
        try:
            send_transactional(ctx, message, Recipient(user.email, user.name))
            sent += 1
        except RoundupError as exc:
            log.warning("could not tell %s that %s is ready: %s", user.name, edition.key, exc)
    return sent
