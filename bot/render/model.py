"""What an edition shows: its sections and stories, resolved and made safe.

What it does: groups an edition's entries into sections (`edition_sections`) the
way the email shows them, with every field already bounded plain text, links
checked and UTM-tagged, and the kicker worked out; and hashes exactly that
content (`content_hash`) so an approval can be bound to it.
What it does not do: decide which stories an edition holds or their order
(`bot.edition` does, encoding pins in positions), or lay anything out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from bot.config import Config, NewsletterConfig
from bot.errors import ConfigError, NotFoundError
from bot.render.links import add_utm, edition_url, safe_url
from bot.render.text import intro_html, plain, truncate
from bot.types import Edition, EditionEntry, StoredItem

# Bounds on what one story may contribute (characters): they keep a full edition
# under Gmail's 102 KB clip whatever the feeds send.
MAX_HEADLINE = 300
MAX_LEDE = 600
MAX_AUTHOR = 120
MAX_CREDIT = 300
MAX_SUBJECT = 200
MAX_PREHEADER = 150
HASH_VERSION = "render-1"  # bump when the meaning of the hashed content changes

_CREDIT_PREFIX = re.compile(r"^\s*(?:top\s+)?(?:photo|image|picture)\s+credit\s*:\s*", re.I)
_BY_PREFIX = re.compile(r"^\s*by\s+", re.I)
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


@dataclass(frozen=True)
class Story:
    """One story as the email shows it; every text field is bounded plain text."""

    key: str
    section: str
    kind: str | None  # "Analysis", from the item's tags and `newsletter.kinds`
    kicker: str  # "Analysis | Middle East", or just the section name
    headline: str
    url: str | None  # the story's http(s) URL; None: not linked
    link: str | None  # `url` with the UTM parameters
    author: str | None
    lede: str
    image_url: str | None
    image_alt: str
    image_credit: str | None


@dataclass(frozen=True)
class Section:
    name: str
    slug: str
    stories: tuple[Story, ...]


def edition_sections(
    edition: Edition,
    items: Mapping[str, StoredItem],
    config: Config,
    regions: Collection[str] | None = None,
) -> list[Section]:
    """The edition's non-excluded entries grouped by section, as the email shows them.

    Sections come in config order (fallback last); an entry whose region the config
    no longer names goes to the fallback, never nowhere. Within a section, entries
    sort by position. `regions` (names or slugs, any case) keeps only those
    sections; empty sections are dropped. Raises `NotFoundError` when an included
    entry names an item that `items` lacks.
    """
    slugs = {r.name: r.id for r in config.regions} | {config.fallback.name: config.fallback.id}
    wanted = _wanted(config, regions)
    grouped: dict[str, list[EditionEntry]] = {name: [] for name in config.region_names}
    for entry in edition.entries:
        if entry.excluded:
            continue
        name = entry.region if entry.region in grouped else config.fallback.name
        grouped[name].append(entry)
    sections = []
    for name, entries in grouped.items():
        if not entries or name not in wanted:
            continue
        entries.sort(key=lambda e: (e.position, e.item_key))
        stories = tuple(_story(edition, e, name, items, config) for e in entries)
        sections.append(Section(name=name, slug=slugs[name], stories=stories))
    return sections


def _wanted(config: Config, regions: Collection[str] | None) -> set[str]:
    if regions is None:
        return set(config.region_names)
    asked = {r.casefold() for r in regions}
    pairs = [(r.name, r.id) for r in config.regions] + [(config.fallback.name, config.fallback.id)]
    return {name for name, slug in pairs if name.casefold() in asked or slug.casefold() in asked}


def _story(
    edition: Edition,
    entry: EditionEntry,
    section: str,
    items: Mapping[str, StoredItem],
    config: Config,
) -> Story:
    stored = items.get(entry.item_key)
    if stored is None:
        raise NotFoundError(
            f"edition {edition.key} names story {entry.item_key!r}, which is not in the store; "
            "exclude it or re-draft the edition"
        )
    item = stored.item
    newsletter = config.newsletter
    headline = plain(entry.headline, MAX_HEADLINE) or plain(item.title, MAX_HEADLINE) or "Untitled"
    lede = plain(entry.lede if entry.lede is not None else item.lede, MAX_LEDE)
    url = safe_url(item.canonical_url) or safe_url(item.url)
    kind = next(
        (
            k
            for tag in item.tags
            for k in newsletter.kinds
            if tag.strip().casefold() == k.casefold()
        ),
        None,
    )
    author = _BY_PREFIX.sub("", plain(item.author, MAX_AUTHOR)) or None
    credit = _CREDIT_PREFIX.sub("", plain(item.image_credit, MAX_CREDIT)) or None
    image = safe_url(item.image_url)
    return Story(
        key=item.key,
        section=section,
        kind=kind,
        kicker=f"{kind} | {section}" if kind else section,
        headline=headline,
        url=url,
        link=add_utm(url, newsletter.utm, edition.key) if url else None,
        author=author,
        lede=lede,
        image_url=image,
        # The credit usually describes the picture; an empty alt would hide it from
        # screen readers, the headline at least says what it illustrates.
        image_alt=truncate(credit or headline, 150) if image else "",
        image_credit=credit if image else None,
    )


def edition_date(edition: Edition, newsletter: NewsletterConfig) -> str:
    """The masthead date: the window's end in the newsletter's timezone."""
    local = edition.window_end.astimezone(ZoneInfo(newsletter.timezone))
    return f"{local:%B} {local.day}, {local.year}"


def subject_line(edition: Edition, newsletter: NewsletterConfig, date: str) -> str:
    """The editor's subject, else the config's template (``{name}: {date}``)."""
    if edition.subject.strip():
        return plain(edition.subject, MAX_SUBJECT)
    values = {
        "name": newsletter.name,
        "publication": newsletter.publication,
        "date": date,
        "edition": edition.key,
    }

    def field(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ConfigError(
                f"newsletter.subject {newsletter.subject!r} uses {{{match.group(1)}}}; "
                f"it may use {', '.join('{' + k + '}' for k in values)}"
            )
        return values[match.group(1)]

    return plain(_PLACEHOLDER.sub(field, newsletter.subject), MAX_SUBJECT)


def preheader_line(edition: Edition, sections: list[Section]) -> str:
    """The editor's preheader, else the first headlines (the inbox preview line)."""
    if edition.preheader.strip():
        return plain(edition.preheader, MAX_PREHEADER)
    line = ""
    for story in (s for section in sections for s in section.stories):
        joined = f"{line} · {story.headline}" if line else story.headline
        if line and len(joined) > MAX_PREHEADER:
            break  # whole headlines only, once there is one
        line = joined
    return plain(line, MAX_PREHEADER)


def content_hash(edition: Edition, items: Mapping[str, StoredItem], config: Config) -> str:
    """sha256 of the content the full edition would show, as hex.

    It covers the subject, preheader, date, intro, every shown story field in
    order and section, and the newsletter text around them (pitch, follow links,
    address, browser link). It leaves out what does not change the content:
    excluded entries, item fields the email does not show, and the brand styling.
    """
    newsletter = config.newsletter
    sections = edition_sections(edition, items, config)
    date = edition_date(edition, newsletter)
    content = {
        "version": HASH_VERSION,
        "edition": edition.key,
        "subject": subject_line(edition, newsletter, date),
        "preheader": preheader_line(edition, sections),
        "date": date,
        "intro": intro_html(edition.intro),
        "sections": [asdict(s) for s in sections],
        "newsletter": {
            "name": newsletter.name,
            "publication": newsletter.publication,
            "pitch": newsletter.pitch,
            "follow": [(link.label, link.url) for link in newsletter.follow],
            "address": newsletter.postal_address,
            "browser": edition_url(newsletter, edition.key),
            "site": newsletter.site_url,
        },
    }
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
