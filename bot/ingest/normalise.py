"""One feedparser entry -> one frozen `Item`.

What it does, field by field:
- `url`: the entry's link (else its first alternate link) resolved against the feed
  URL and cleaned by `urls.clean_url`; a link it refuses is dropped (noted), and
  then `url` is "" (the store matches the story by key alone). `canonical_url` is
  `canonical_url(url)`.
- `key`: the guid/id when the feed gives one (a guid longer than 512 characters is
  replaced by ``sha256:<hex>`` of it); else the canonical URL; else
  ``sha256:<hex>`` of the title and the published time (ISO 8601, "" when absent),
  joined by a newline.
- `title`, `lede`, `author`, `tags`, `image_credit`: plain text (tags stripped,
  entities decoded, whitespace collapsed). The lede is the summary (else the
  content) as text, without its "Top photo credit: ..." line, trimmed to about 300
  characters at a sentence or word boundary. An entry without a title gets the
  start of its lede as title.
- `content`: the content (else the summary) as HTML sanitised with nh3.
- `published`: published, else updated; `updated`: updated (UTC-aware).
- `tags`: category terms (else labels) as given, trimmed, the first of each
  case-insensitive duplicate kept, in order.
- `image_url`/`image_credit`: see `media`; the credit is media:credit, else the
  description's credit line.
Every URL dropped is described in the `notes` list the caller passes, which `parse`
turns into the feed's warnings.
What it does not do: decide whether a feed is usable (that is `parse`), or keep
entries unique within a feed.

An entry is skipped (`EntrySkipped`) when it carries nothing a reader could use:
no title, no link and no text.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.ingest.media import MAX_CREDIT_CHARS, media_credit, pick_image
from bot.ingest.text import (
    collapse,
    html_lines,
    sanitise_html,
    split_credit,
    trim_text,
)
from bot.ingest.urls import UrlDropped, canonical_url, dropped, resolve_link
from bot.types import Item

MAX_KEY_CHARS = 512
MAX_TITLE_CHARS = 500
MAX_AUTHOR_CHARS = 300
MAX_TAGS = 50
MAX_TAG_CHARS = 200
UNTITLED_CHARS = 120


class EntrySkipped(ValueError):
    """The entry cannot become an `Item`; the message says why."""


def _get(entry: Mapping[str, Any], key: str) -> Any:
    # dict.get, not FeedParserDict's __getitem__: that one maps missing keys to
    # others ("updated" -> "published") with deprecation warnings.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _str(entry: Mapping[str, Any], key: str) -> str:
    value = _get(entry, key)
    return value if isinstance(value, str) else ""


def _detail_lines(entry: Mapping[str, Any], key: str) -> list[str]:
    """The text lines of a feedparser text construct (title, summary...)."""
    value = _str(entry, key)
    detail = _get(entry, f"{key}_detail")
    mime = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if "html" in str(mime) or "<" in value:
        return html_lines(value)
    return [line for line in (collapse(part) for part in value.split("\n")) if line]


def _content_html(entry: Mapping[str, Any]) -> str:
    contents = [c for c in (_get(entry, "content") or []) if isinstance(c, Mapping)]
    for wanted in ("html", ""):  # an HTML content first, else whatever there is
        for content in contents:
            if wanted in str(content.get("type", "")) and isinstance(content.get("value"), str):
                return str(content["value"])
    return ""


def _datetime(entry: Mapping[str, Any], key: str) -> datetime | None:
    parsed = _get(entry, key)
    if not isinstance(parsed, time.struct_time):
        return None
    try:  # feedparser's *_parsed are UTC
        return datetime(*parsed[:6], tzinfo=UTC)
    except ValueError:
        return None


def _author(entry: Mapping[str, Any]) -> str | None:
    names: list[str] = []
    for author in _get(entry, "authors") or []:
        if isinstance(author, Mapping):
            name = collapse(str(author.get("name") or author.get("email") or ""))
            if name and name not in names:
                names.append(name)
    if not names and _str(entry, "author"):
        names.append(collapse(_str(entry, "author")))
    if not names:
        return None
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return text[:MAX_AUTHOR_CHARS]


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    seen: set[str] = set()
    tags: list[str] = []
    for tag in _get(entry, "tags") or []:
        if not isinstance(tag, Mapping):
            continue
        text = collapse(str(tag.get("term") or tag.get("label") or ""))[:MAX_TAG_CHARS]
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            tags.append(text)
    return tuple(tags[:MAX_TAGS])


def _link(entry: Mapping[str, Any], base: str, notes: list[str]) -> str:
    alternates = [
        str(candidate.get("href") or "")
        for candidate in _get(entry, "links") or []
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate"
    ]
    refused = ""
    for candidate in (_str(entry, "link"), *alternates):
        try:
            link = resolve_link(candidate, base)
        except UrlDropped as exc:
            refused = refused or dropped("story link", candidate, exc)
            continue
        if link:
            return link
    if refused:
        notes.append(refused)
    return ""


def _hash_key(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _key(guid: str, canonical: str, title: str, published: datetime | None) -> str:
    if guid:
        return guid if len(guid) <= MAX_KEY_CHARS else _hash_key(guid)
    if canonical:
        return canonical
    return _hash_key(title, published.isoformat() if published else "")


def normalise_entry(
    entry: Mapping[str, Any], *, feed_url: str, feed_name: str, notes: list[str] | None = None
) -> Item:
    """The `Item` for one feedparser entry; raises `EntrySkipped` (see the module doc).

    Each URL of the entry that was dropped is described in `notes`, if given.
    """
    notes = [] if notes is None else notes
    url = _link(entry, feed_url, notes)
    content = _content_html(entry)
    summary_lines, credit = split_credit(_detail_lines(entry, "summary"))
    if not summary_lines and content:
        summary_lines, _ = split_credit(html_lines(content))
    lede = trim_text(" ".join(summary_lines))
    title = collapse(" ".join(_detail_lines(entry, "title")))[:MAX_TITLE_CHARS]
    if not (title or url or lede):
        raise EntrySkipped("no title, no link and no text")
    title = title or trim_text(lede, UNTITLED_CHARS) or url
    published = _datetime(entry, "published_parsed") or _datetime(entry, "updated_parsed")
    summary = _str(entry, "summary")
    image_credit = media_credit(entry) or (credit[:MAX_CREDIT_CHARS] if credit else None)
    canonical = canonical_url(url) if url else ""
    return Item(
        key=_key(collapse(_str(entry, "id")), canonical, title, published),
        feed=feed_name,
        url=url,
        canonical_url=canonical,
        title=title,
        lede=lede,
        content=sanitise_html(content or summary, base=url or feed_url),
        author=_author(entry),
        published=published,
        updated=_datetime(entry, "updated_parsed"),
        tags=_tags(entry),
        image_url=pick_image(entry, (content, summary), url or feed_url, notes),
        image_credit=image_credit,
    )
