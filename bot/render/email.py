"""Render an edition into the round-up email: subject, preheader, HTML and text.

What it does: builds the template context from `edition_sections`, renders the
Jinja2 templates in ``templates/email/`` (autoescape on for HTML), inlines the CSS
with css-inline (keeping the mobile and dark-mode @media rules in <head>), and
returns a `Rendered`. Per-recipient parts are tokens (`bot.render.tokens`), so one
render serves every subscriber of a region set.
What it does not do: choose recipients, fill tokens or send (`bot.send`), or read
the clock: the date shown is the edition's own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

import bot
from bot.config import Brand, Config
from bot.errors import ConfigError
from bot.render.links import edition_url, safe_url
from bot.render.model import (
    Section,
    edition_date,
    edition_sections,
    preheader_line,
    subject_line,
)
from bot.render.text import WIDTH, LinkRefs, html_to_text, intro_html, plain, wrap
from bot.render.tokens import tokens
from bot.types import Edition, StoredItem

TEMPLATES_ENV = "ROUNDUP_TEMPLATES"
# Story images fill the 520px column (600 less 40px margins). Feeds do not give
# image sizes, so the attributes assume the usual 3:2 photo; clients that read CSS
# keep the real proportions (height:auto), Outlook uses the attributes.
IMAGE = {"width": 520, "height": 347}
_FONT_STACK = re.compile(r"^[A-Za-z0-9 ,'\"-]{1,200}$")
_DARK = {"page": "#121212", "card": "#1e1e1e", "text": "#ececec", "muted": "#a8a8a8"}
# Moves <style> rules onto elements for clients that drop <style>; keeps @media for
# dark mode and never fetches remote stylesheets. Shared by every email render.
INLINER = css_inline.CSSInliner(keep_at_rules=True, minify_css=True, load_remote_stylesheets=False)
# The templates' head-only <style>: never inlined, kept in <head> as written.
_KEPT_STYLE = re.compile(r'<style data-css-inline="ignore">(.*?)</style>', re.S)
_CLASS_ATTR = re.compile(r' class="([^"]*)"')
_CSS_CLASS = re.compile(r"\.([A-Za-z][\w-]*)")
# Classes kept though no kept rule names them: hooks for tools that inspect the
# email (the screenshot tests do): preheader, test banner, logo plate, photos, ledes.
_ALWAYS_KEPT = frozenset({"preheader", "banner", "plate", "photo", "lede"})


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    html: str
    text: str
    regions: tuple[str, ...]  # the sections rendered (non-empty ones), in order
    story_count: int


def templates_dir() -> Path:
    """The templates folder (holding ``email/`` and ``web/``).

    ``ROUNDUP_TEMPLATES`` overrides; else the ``templates`` folder beside the
    ``bot`` package (a checkout has it there; an installed tree must ship it there).
    """
    override = os.environ.get(TEMPLATES_ENV, "").strip()
    path = Path(override) if override else Path(bot.__file__).resolve().parent.parent / "templates"
    if not (path / "email").is_dir():
        where = f"{TEMPLATES_ENV}={override}" if override else "the templates beside the package"
        raise ConfigError(
            f"no email templates in {path} ({where}); set {TEMPLATES_ENV} to the folder "
            "that holds email/"
        )
    return path


@lru_cache(maxsize=4)
def environment(directory: Path) -> Environment:
    """The Jinja2 environment of the email templates under `directory` (autoescaped)."""
    return Environment(
        loader=FileSystemLoader(directory / "email"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"), disabled_extensions=("txt",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_edition(
    edition: Edition,
    items: Mapping[str, StoredItem],
    config: Config,
    *,
    regions: Collection[str] | None = None,
    test: bool = False,
) -> Rendered:
    """Render `edition` once for a region set (None: every region).

    `test=True` prefixes the subject with ``[TEST]`` and shows a banner in both parts.
    """
    return render_parts(edition, items, config, regions=regions, test=test, inline=True)


def render_parts(
    edition: Edition,
    items: Mapping[str, StoredItem],
    config: Config,
    *,
    regions: Collection[str] | None = None,
    test: bool = False,
    inline: bool = True,
) -> Rendered:
    """`render_edition`, with CSS inlining optional (the benchmark's baseline)."""
    sections = edition_sections(edition, items, config, regions)
    newsletter = config.newsletter
    date = edition_date(edition, newsletter)
    subject = subject_line(edition, newsletter, date)
    if test:
        subject = f"[TEST] {subject}"
    intro = intro_html(edition.intro)
    preheader = preheader_line(edition, sections)
    common: dict[str, Any] = {
        "subject": subject,
        "test": test,
        "date": date,
        "browser_url": edition_url(newsletter, edition.key),
        "tokens": tokens(),
    }
    env = environment(templates_dir())
    html = env.get_template("roundup.html").render(
        common | _html_context(config, sections, intro, preheader)
    )
    text = env.get_template("roundup.txt").render(common | _text_context(config, sections, intro))
    return Rendered(
        subject=subject,
        preheader=preheader,
        html=inline_css(html) if inline else html,
        text=text,
        regions=tuple(s.name for s in sections),
        story_count=sum(len(s.stories) for s in sections),
    )


def _html_context(
    config: Config, sections: list[Section], intro: str, preheader: str
) -> dict[str, Any]:
    newsletter = config.newsletter
    brand = newsletter.brand
    logo_url = safe_url(brand.logo_url)
    light, dark = palette(brand)
    return {
        "preheader": preheader,
        # Fills the inbox preview after the preheader so it does not run on into
        # the body text ("View this email in your browser ...").
        "preheader_pad": Markup("&zwnj;&nbsp;" * 90),
        "c": light,
        "d": dark,
        "f": {"heading": font_stack(brand.heading_font), "body": font_stack(brand.body_font)},
        "logo": (
            {"url": logo_url, "width": brand.logo_width, "height": brand.logo_height}
            if logo_url
            else None
        ),
        "image": IMAGE,
        "intro": Markup(intro),
        "sections": sections,
        "newsletter": newsletter_context(config),
    }


def inline_css(html: str) -> str:
    """`html` with its first <style> inlined into style attributes.

    The head-only <style> (``data-css-inline="ignore"``) goes back into <head> as
    written, and class names that none of its rules uses are dropped: after
    inlining they only cost bytes (Gmail clips a message past 102 KB).
    """
    kept = _KEPT_STYLE.search(html)
    if kept is None:
        return INLINER.inline(html)
    css = kept.group(1)
    inlined = INLINER.inline(html[: kept.start()] + html[kept.end() :])
    used = frozenset(_CSS_CLASS.findall(css)) | _ALWAYS_KEPT

    def prune(match: re.Match[str]) -> str:
        names = [n for n in match.group(1).split() if n in used]
        return f' class="{" ".join(names)}"' if names else ""

    head, sep, rest = inlined.partition("</head>")
    if not sep:
        return _CLASS_ATTR.sub(prune, inlined)
    return f"{head}<style>{css.strip()}</style>\n</head>{_CLASS_ATTR.sub(prune, rest)}"


def newsletter_context(config: Config) -> dict[str, Any]:
    """What every email template shows of the newsletter: name, links, address."""
    newsletter = config.newsletter
    return {
        "name": plain(newsletter.name, 100),
        "publication": plain(newsletter.publication, 100),
        "site_link": newsletter.site_url,
        "pitch": plain(newsletter.pitch, 600),
        "follow": [(plain(link.label, 40), link.url) for link in newsletter.follow],
        "address": plain(newsletter.postal_address, 300),
    }


def _text_context(config: Config, sections: list[Section], intro: str) -> dict[str, Any]:
    news = newsletter_context(config)
    refs = LinkRefs()
    paragraphs = html_to_text(intro, refs)
    text_sections = []
    for section in sections:
        stories = []
        for story in section.stories:
            headline = story.headline + (f" [{refs.ref(story.link)}]" if story.link else "")
            stories.append(
                {
                    "kicker": wrap(story.kicker),
                    "headline": wrap(headline),
                    "byline": wrap(f"By {story.author}") if story.author else "",
                    "lede": wrap(story.lede) if story.lede else "",
                }
            )
        text_sections.append({"name": section.name, "stories": stories})
    follow = [f"{label} [{refs.ref(url)}]" for label, url in news["follow"]]
    if not follow:
        follow = [f"{news['publication']} [{refs.ref(news['site_link'])}]"]
    return {
        "publication": news["publication"],
        "name": news["name"],
        "intro": paragraphs,
        "sections": text_sections,
        "pitch": wrap(news["pitch"]) if news["pitch"] else "",
        "follow": wrap("Follow us: " + ", ".join(follow)),
        "links": refs.listing(),
        "address": wrap(news["address"]),
        "rule": "-" * WIDTH,
    }


def palette(brand: Brand) -> tuple[dict[str, str], dict[str, str]]:
    """Light colours from the brand, and the dark-mode colours derived from them."""
    light = {
        "accent": brand.accent_color,
        "text": brand.text_color,
        "muted": brand.muted_color,
        "background": brand.background_color,
        # A tint of the text colour: the page behind the card and the pitch box.
        "page": _mix(brand.background_color, brand.text_color, 0.05),
        "rule": _mix(brand.background_color, brand.text_color, 0.15),
    }
    dark = _DARK | {
        "accent": _mix(brand.accent_color, "#ffffff", 0.45),  # readable on dark grey
        "box": _mix(_DARK["card"], "#ffffff", 0.06),
        "rule": _mix(_DARK["card"], "#ffffff", 0.18),
    }
    return light, dark


def _mix(a: str, b: str, t: float) -> str:
    """Colour `t` of the way from hex `a` to hex `b`."""
    ca, cb = _rgb(a), _rgb(b)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    h = colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def font_stack(stack: str) -> Markup:
    """A font stack safe to place raw in CSS (it goes into <style>, unescaped),
    written short: it is repeated in the style attribute of every text element."""
    if not _FONT_STACK.match(stack):
        raise ConfigError(
            f"newsletter.brand font {stack!r} may hold only letters, digits, spaces, "
            "commas, hyphens and quotes"
        )
    names = (name.strip() for name in stack.replace('"', "'").split(","))
    return Markup(",".join(name for name in names if name))
