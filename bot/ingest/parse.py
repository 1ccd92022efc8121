"""Bytes of a fetched feed -> `ParsedFeed` (title, items, warnings).

What it does: checks the DTD (`xmlguard`), reads the body with the configured parser
(`fetch.parser`), decides whether the result is usable, and normalises every entry.
The parsers:
- ``fastfeedparser`` (the default): `fastparse` reads the plain feeds, which are
  nearly all of them, about ten times faster than feedparser and with the same items;
  every other body goes to feedparser (see `fastparse` for which).
- ``feedparser``: every body is read by feedparser, given as a stream with the
  response headers (the feed URL goes in as Content-Location, the base of relative
  links).

When a parse is fatal (`ParseError`, the feed is FAILED):
1. the body is empty or only whitespace;
2. feedparser recognised no RSS, Atom or RDF document (`version` is empty) and read
   no entry: HTML, JSON, plain text, an XML document of another kind;
3. the XML is not well-formed (a SAX error) and the lenient parser read neither an
   entry nor a feed title from it: nothing trustworthy is left.
Everything else is a success, with feedparser's "bozo" notices (wrong declared
encoding, a non-XML Content-Type, an undeclared namespace, broken markup that the
lenient parser got past) kept as warnings. A well-formed feed with no entries is a
success with no items: new sections start empty.

Entries: at most `MAX_ENTRIES` per feed are read; an entry that cannot be
normalised, or whose key repeats an earlier entry's, is skipped with a warning; so is
every URL of an entry that was dropped as unsafe to store (see `urls.clean_url`).
feedparser is asked only for the work nothing after it redoes: its HTML sanitiser
and its resolution of relative links inside HTML are off, because `normalise`
sanitises every HTML field with nh3 (resolving relative links against the entry's
URL on the way) and reads every text field as plain text.
What it does not do: fetch (feedparser is never given a URL or a path: a body that
happens to be a file name must not be opened), or store anything.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin
from xml.sax import SAXException, SAXParseException

import feedparser

from bot.errors import ParseError
from bot.ingest.normalise import EntrySkipped, normalise_entry
from bot.ingest.text import collapse, html_to_text
from bot.ingest.xmlguard import check_entities
from bot.types import Classification, Item

log = logging.getLogger(__name__)

MAX_ENTRIES = 1000
MAX_WARNINGS = 20
MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: tuple[Item, ...]
    warnings: tuple[str, ...] = ()
    entries: int = 0  # how many entries the parser read, before the cap and skips
    parser: str = "feedparser"  # which parser read the body
    # One per item, when the pool was given a classifier (see `workers.ParsePool`).
    classifications: tuple[Classification, ...] | None = None


def _content_type(headers: Mapping[str, str]) -> str:
    return collapse(headers.get("content-type", "")).split(";")[0].strip().lower()


def _what_it_is(body: bytes, content_type: str) -> str:
    head = body[:1024].lstrip().lower()
    if content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        return "HTML"
    if content_type.endswith("json") or head.startswith((b"{", b"[")):
        return "JSON"
    return ""


def _describe_bozo(exc: object) -> str:
    if isinstance(exc, SAXException):
        where = ""
        if isinstance(exc, SAXParseException):
            where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: "
        return f"not well-formed XML ({where}{exc.getMessage()})"
    name = type(exc).__name__
    if name == "CharacterEncodingOverride":
        return f"encoding: {exc}"
    if name == "NonXMLContentType":
        return f"content type: {exc}"
    return collapse(f"{name}: {exc}")


def _fatal(result: Any, body: bytes, headers: Mapping[str, str]) -> str | None:
    content_type = _content_type(headers) or "no Content-Type"
    if not body.strip():
        return "not a feed: the body is empty"
    entries, feed = result.get("entries") or [], result.get("feed") or {}
    if not result.get("version") and not entries:
        kind = _what_it_is(body, content_type)
        if kind:
            return f"not a feed: the body is {kind} ({content_type})"
        return f"not a feed: no RSS, Atom or RDF document found ({content_type})"
    exc = result.get("bozo_exception")
    if isinstance(exc, SAXException) and not entries and not feed.get("title"):
        return f"malformed feed: {_describe_bozo(exc)}, and no entry could be read"
    return None


def _feedparser_headers(headers: Mapping[str, str], url: str, body: bytes) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    # Content-Location is feedparser's base for relative links; a server's own
    # (possibly relative) one wins over the URL we fetched. It is given only when
    # the server sent one or the document sets xml:base: otherwise the links stay as
    # written and `normalise` resolves them against the feed URL, the same result
    # without feedparser's urljoin on every link element (a quarter of its time).
    if lowered.get("content-location") or b"xml:base" in body:
        lowered["content-location"] = urljoin(url, lowered.get("content-location", "") or url)
    # The body handed over is already decoded: these no longer describe it.
    lowered.pop("content-encoding", None)
    lowered.pop("content-length", None)
    return lowered


def _normalise_all(
    entries: Sequence[Any], url: str, feed_name: str, warnings: list[str]
) -> tuple[Item, ...]:
    items: list[Item] = []
    seen: set[str] = set()
    if len(entries) > MAX_ENTRIES:
        warnings.append(f"{len(entries)} entries; only the first {MAX_ENTRIES} were read")
    for number, entry in enumerate(entries[:MAX_ENTRIES], start=1):
        notes: list[str] = []
        try:
            item = normalise_entry(entry, feed_url=url, feed_name=feed_name, notes=notes)
        except EntrySkipped as exc:
            warnings.append(f"entry {number} skipped: {exc}")
            continue
        except Exception as exc:  # one odd entry must not cost the feed its others
            log.debug("entry %d of %s failed to normalise", number, feed_name, exc_info=True)
            warnings.append(f"entry {number} skipped: {type(exc).__name__}: {exc}")
            continue
        finally:
            warnings.extend(f"entry {number}: {note}" for note in notes)
        if item.key in seen:
            warnings.append(f"entry {number} skipped: it repeats the key {item.key[:200]!r}")
            continue
        seen.add(item.key)
        items.append(item)
    return tuple(items)


def _bounded(warnings: list[str]) -> tuple[str, ...]:
    if len(warnings) <= MAX_WARNINGS:
        return tuple(warnings)
    more = len(warnings) - MAX_WARNINGS
    return (*warnings[:MAX_WARNINGS], f"... and {more} more warnings")


def _read(
    body: bytes, headers: Mapping[str, str], url: str, parser: str
) -> tuple[Any, dict[str, str], str]:
    """The parser's result, the headers it was given, and which parser it was."""
    sent = _feedparser_headers(headers, url, body)
    if parser == "fastfeedparser":
        from bot.ingest.fastparse import parse_fast

        fast = parse_fast(body, sent.get("content-type", ""))
        if fast is not None:
            return fast, sent, "fastfeedparser"
    result = feedparser.parse(
        io.BytesIO(body), response_headers=sent, resolve_relative_uris=False, sanitize_html=False
    )
    return result, sent, "feedparser"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    feed_name: str,
    parser: str = "fastfeedparser",
) -> ParsedFeed:
    """Parse and normalise one feed body; raises `ParseError` when it is unusable.

    `parser` is ``fastfeedparser`` (plain feeds read fast, the rest by feedparser)
    or ``feedparser`` (every feed by feedparser).
    """
    check_entities(body)
    result, sent, used = _read(body, headers, url, parser)
    problem = _fatal(result, body, sent)
    if problem:
        raise ParseError(problem)
    warnings: list[str] = []
    if result.get("bozo"):
        warnings.append(_describe_bozo(result.get("bozo_exception")))
    entries = result.get("entries") or []
    items = _normalise_all(entries, url, feed_name, warnings)
    feed = result.get("feed") or {}
    title = html_to_text(str(feed.get("title") or ""))[:MAX_TITLE_CHARS] or None
    for warning in warnings:
        log.warning("feed %s: %s", feed_name, warning)
    return ParsedFeed(title, items, _bounded(warnings), entries=len(entries), parser=used)
