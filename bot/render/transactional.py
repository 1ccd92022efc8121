"""Render the transactional emails: today, the double opt-in confirmation.

What it does: renders ``templates/email/confirm.html`` and ``confirm.txt`` in the
newsletter's brand (the same layout, palette, fonts and CSS inlining as the
round-up) around one confirmation link, and returns a `TransactionalEmail`.
What it does not do: make the signed link (`bot.tokens`), choose the transport or
send (`bot.send.confirmations`), or hold per-recipient tokens: the link is
already the recipient's own, so nothing is left to substitute at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from bot.config import Config
from bot.render.email import (
    environment,
    font_stack,
    inline_css,
    newsletter_context,
    palette,
    templates_dir,
)
from bot.render.links import safe_url
from bot.render.text import WIDTH, plain, wrap


@dataclass(frozen=True)
class TransactionalEmail:
    subject: str
    html: str
    text: str


def confirm_subject(config: Config) -> str:
    return f"Confirm your subscription to {plain(config.newsletter.name, 100)}"


def render_confirmation(config: Config, confirm_url: str, max_age: timedelta) -> TransactionalEmail:
    """The confirmation email for one sign-up; `confirm_url` is its signed link.

    Raises `ValueError` when the link is not an absolute http(s) URL: a link the
    reader cannot follow must never be mailed.
    """
    link = safe_url(confirm_url)
    if link is None:
        raise ValueError(f"the confirmation link {confirm_url!r} is not an absolute http(s) URL")
    subject = confirm_subject(config)
    news = newsletter_context(config)
    brand = config.newsletter.brand
    light, dark = palette(brand)
    days = _days(max_age)
    common: dict[str, Any] = {
        "subject": subject,
        "test": False,
        "confirm_url": link,
        "valid_for": days,
        "newsletter": news,
    }
    env = environment(templates_dir())
    html = env.get_template("confirm.html").render(
        common
        | {
            "preheader": f"One click to start receiving {news['name']}.",
            "preheader_pad": Markup("&zwnj;&nbsp;" * 90),
            "c": light,
            "d": dark,
            "f": {"heading": font_stack(brand.heading_font), "body": font_stack(brand.body_font)},
        }
    )
    text = env.get_template("confirm.txt").render(
        common
        | {
            "intro": wrap(
                f"Thank you for signing up to {news['name']} from {news['publication']}. "
                "Please confirm your address by opening this link:"
            ),
            "ignore": wrap(
                "If you did not sign up, ignore this email: you will not be "
                "subscribed and will hear nothing more from us."
            ),
            "address": wrap(news["address"]),
            "rule": "-" * WIDTH,
        }
    )
    return TransactionalEmail(subject=subject, html=inline_css(html), text=text)


def _days(max_age: timedelta) -> str:
    days = max(1, round(max_age / timedelta(days=1)))
    return "1 day" if days == 1 else f"{days} days"
