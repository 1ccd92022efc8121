"""The lead image of a feed entry and its credit.

What it does: picks one image URL from what feedparser read, in this order:
media:content of an image type (the widest when there are several renditions),
media:thumbnail (the widest), an enclosure of an image type, then the first <img>
of the entry's content or summary. The credit is the entry's media:credit when the
feed carries one. Relative URLs are resolved; a URL that `clean_url` refuses is not
used, and the next candidate (an <img> of the content) is tried instead.
What it does not do: fetch images, check that they exist, or read the "Top photo
credit:" lines of descriptions (that is `normalise`, which owns the lede).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from bot.ingest.text import collapse, first_image
from bot.ingest.urls import UrlDropped, dropped, resolve_link

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
MAX_CREDIT_CHARS = 600


def _dicts(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def _str(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


def _width(mapping: Mapping[str, Any]) -> int:
    try:
        return int(_str(mapping, "width"))
    except ValueError:
        return 0


def _looks_like_image(url: str, mime: str = "", medium: str = "") -> bool:
    if medium:
        return medium.lower() == "image"
    if mime:
        return mime.lower().startswith("image/")
    return url.lower().split("?", 1)[0].endswith(IMAGE_SUFFIXES)


def _widest(candidates: Iterable[Mapping[str, Any]], url_key: str) -> str:
    best, best_width = "", -1
    for candidate in candidates:
        url, width = _str(candidate, url_key), _width(candidate)
        if url and width > best_width:  # the first wins among equal widths
            best, best_width = url, width
    return best


def pick_image(
    entry: Mapping[str, Any], html: Iterable[str], base: str, notes: list[str] | None = None
) -> str | None:
    """The entry's lead image URL, absolute http(s), or None.

    `html` are the entry's content and summary fragments, searched for an <img>
    when the feed names no usable image; `base` resolves relative URLs. When no
    image is kept but one was refused, why goes into `notes`.
    """
    media = [
        m
        for m in _dicts(entry.get("media_content"))
        if _looks_like_image(_str(m, "url"), _str(m, "type"), _str(m, "medium"))
    ]
    enclosures = [
        link
        for link in _dicts(entry.get("links"))
        if _str(link, "rel") == "enclosure"
        and _looks_like_image(_str(link, "href"), _str(link, "type"))
    ]
    found = (
        _widest(media, "url")
        or _widest(_dicts(entry.get("media_thumbnail")), "url")
        or _widest(enclosures, "href")
    )
    # Lazily: the HTML is read for an <img> only when no earlier candidate is kept.
    candidates = itertools.chain((found,), (first_image(fragment) or "" for fragment in html))
    refused = ""
    for candidate in candidates:
        try:
            url = resolve_link(candidate, base)
        except UrlDropped as exc:
            refused = refused or dropped("image", candidate, exc)
            continue
        if url:
            return url
    if refused and notes is not None:
        notes.append(refused)
    return None


def media_credit(entry: Mapping[str, Any]) -> str | None:
    """The first non-empty media:credit of the entry, as plain text."""
    for credit in _dicts(entry.get("media_credit")):
        text = collapse(_str(credit, "content"))
        if text:
            return text[:MAX_CREDIT_CHARS]
    return None
