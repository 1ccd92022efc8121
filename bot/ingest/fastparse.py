"""The fast parser: fastfeedparser's reading of a plain feed, in feedparser's shape.

What it does: for a body it can read exactly as feedparser would, returns a
feedparser-shaped result (``feed``, ``entries``, ``version``) that `normalise`
reads unchanged. fastfeedparser parses in C and Rust, about thirty times faster
than feedparser's pure-Python SAX handlers on a typical news feed.
The bodies it takes are the plain ones, which are nearly all feeds: UTF-8,
well-formed and namespace-clean XML (checked with expat, the parser feedparser
itself uses, so "well-formed" means the same to both), an RSS 2.0 or Atom 1.0 root,
no ``xml:base``. Anything else returns None and feedparser reads the feed, with its
encoding detection, its lenient parser for broken markup and its many old formats.
fastfeedparser is also left to feedparser whenever it raises.
What it does not do: decide whether a feed is usable (that is `parse`), sanitise
anything (`normalise` does), or fetch: fastfeedparser is only ever given bytes,
never a URL, which it would download itself.
"""

from __future__ import annotations

import re
import time
import xml.parsers.expat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fastfeedparser

ATOM = "http://www.w3.org/2005/Atom"
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BOM = b"\xef\xbb\xbf"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"


def _words(text: str, prefix: str = "") -> frozenset[str]:
    return frozenset(prefix + word for word in text.split())


# The elements this module lets through, per format. Everything else in these
# formats' namespaces (or in none) sends the feed to feedparser.
_READ_THE_SAME = {f"{DC} creator", f"{DC} rights", f"{DC} language", f"{CONTENT} encoded"} | _words(
    "content group thumbnail credit title", f"{MEDIA} "
)
RSS_ELEMENTS = (
    _words(
        "rss channel title link description language copyright managingEditor webMaster"
        " pubDate lastBuildDate category generator docs ttl image url width height item guid"
        " comments enclosure meta"
    )
    | {f"{ATOM} link"}
    | _READ_THE_SAME
)
ATOM_ELEMENTS = (
    _words(
        "feed title subtitle id updated published link author name email uri entry summary"
        " content category rights generator icon logo",
        f"{ATOM} ",
    )
    | _READ_THE_SAME
)
# Namespaces feedparser knows whose elements `normalise` reads nothing from.
UNREAD_NAMESPACES = frozenset(
    {"http://rssnamespace.org/feedburner/ext/1.0", "http://www.georss.org/georss"}
)
ENTRY = frozenset({"item", f"{ATOM} entry"})
# Elements an entry has at most once, and ones it must not hold, for its reading to
# be the same in both parsers.
SINGLE = (
    _words("title link description guid pubDate author")
    | {f"{DC} creator", f"{CONTENT} encoded"}
    | _words("title id summary content published updated", f"{ATOM} ")
)
NOT_IN_ITEM = frozenset({"item", "image", "url", f"{ATOM} link"})
NOT_IN_ENTRY = frozenset({f"{ATOM} entry"})
# The namespaces feedparser reads elements of (its own table, as of feedparser 6;
# tests/test_ingest_fastparse.py holds it to feedparser's). An element of any other
# namespace is ignored by both parsers.
FEEDPARSER_NAMESPACES = _words(
    """
    http://backend.userland.com/blogChannelModule http://backend.userland.com/rss
    http://backend.userland.com/creativeCommonsRssModule http://blogs.law.harvard.edu/tech/rss
    http://creativecommons.org/ns#license http://example.com/DTDs/PodCast-1.0.dtd
    http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html http://example.com/necho
    http://example.com/newformat# http://freshmeat.net/rss/fm/ http://media.tangent.org/rss/1.0/
    http://hacks.benhammersley.com/rss/streaming/ http://madskills.com/public/xml/rss/module/pingback/
    http://madskills.com/public/xml/rss/module/trackback/ http://my.netscape.com/rdf/simple/0.9/
    http://my.theinfo.org/changed/1.0/rss/ http://podlove.org/simple-chapters http://postneo.com/icbm/
    http://prismstandard.org/namespaces/1.2/basic/ http://purl.org/atom/ns# http://purl.org/echo/
    http://purl.org/dc/elements/1.1/ http://purl.org/dc/terms/ http://purl.org/pie/
    http://purl.org/rss/1.0/ http://purl.org/rss/1.0/modules/aggregation/
    http://purl.org/rss/1.0/modules/annotate/ http://purl.org/rss/1.0/modules/company
    http://purl.org/rss/1.0/modules/content/ http://purl.org/rss/1.0/modules/email/
    http://purl.org/rss/1.0/modules/event/ http://purl.org/rss/1.0/modules/image/
    http://purl.org/rss/1.0/modules/link/ http://purl.org/rss/1.0/modules/reference/
    http://purl.org/rss/1.0/modules/richequiv/ http://purl.org/rss/1.0/modules/rss091#
    http://purl.org/rss/1.0/modules/search/ http://purl.org/rss/1.0/modules/servicestatus/
    http://purl.org/rss/1.0/modules/slash/ http://purl.org/rss/1.0/modules/subscription/
    http://purl.org/rss/1.0/modules/syndication/ http://purl.org/rss/1.0/modules/taxonomy/
    http://purl.org/rss/1.0/modules/textinput/ http://purl.org/rss/1.0/modules/threading/
    http://purl.org/rss/1.0/modules/wiki/ http://rssnamespace.org/feedburner/ext/1.0
    http://schemas.pocketsoap.com/rss/myDescModule/ http://schemas.xmlsoap.org/soap/envelope/
    http://search.yahoo.com/mrss http://search.yahoo.com/mrss/ http://web.resource.org/cc/
    http://webns.net/mvcb/ http://wellformedweb.org/commentAPI/ http://www.georss.org/georss
    http://www.itunes.com/DTDs/PodCast-1.0.dtd http://www.opengis.net/gml
    http://www.w3.org/1999/02/22-rdf-syntax-ns# http://www.w3.org/1999/xhtml
    http://www.w3.org/1999/xlink http://www.w3.org/2000/01/rdf-schema#
    http://www.w3.org/2003/01/geo/wgs84_pos# http://www.w3.org/2005/Atom
    http://www.w3.org/XML/1998/namespace http://xmlns.com/foaf/0.1/ uri/of/echo/namespace#
    """
)
# C1 controls, raw (UTF-8 \xc2\x80-\x9f) or as character references; two searches
# of the bytes, each led by a literal, are ten times faster than one of the text.
_C1_RAW = re.compile(rb"\xc2[\x80-\x9f]")
_C1_REF = re.compile(rb"&#(?:1[2-5][0-9]|[xX][89][0-9a-fA-F]);")


def _charset(content_type: str) -> str:
    match = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", content_type, re.I)
    return match.group(1).lower() if match else ""


@dataclass
class _Shape:
    """What expat saw: the root element, every element name, and per entry (RSS
    item, Atom entry) how often each element (with its Atom ``type``) occurs."""

    root: str = ""
    version: str = ""
    doctype: bool = False  # a DTD may declare entities, which only feedparser expands
    names: set[str] = field(default_factory=set)
    entries: list[Counter[str]] = field(default_factory=list)


def _scan(body: bytes) -> _Shape | None:
    """The shape of the body, when it is well-formed, namespace-clean XML; else None."""
    parser = xml.parsers.expat.ParserCreate("utf-8", namespace_separator=" ")
    shape = _Shape()
    current: list[Counter[str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if not shape.root:
            shape.root, shape.version = name, attrs.get("version", "").strip()
            return
        shape.names.add(name)
        if current:
            current[0][name] += 1
            if "type" in attrs:
                current[0][f"{name}#{attrs['type']}"] += 1
        elif name in ENTRY:
            current.append(Counter())
            shape.entries.append(current[0])

    def end(name: str) -> None:
        if name in ENTRY and current:
            current.clear()

    def doctype(*_: object) -> None:
        shape.doctype = True

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(body, True)
    except (xml.parsers.expat.ExpatError, ValueError):
        return None
    return shape


def _known(names: set[str], known: frozenset[str]) -> bool:
    """Whether every element is one the fast parser reads as feedparser does, or one
    that neither reads (in a namespace feedparser does not know)."""
    for name in names - known:
        namespace = name.rsplit(" ", 1)[0] if " " in name else ""
        if not namespace or (
            namespace in FEEDPARSER_NAMESPACES and namespace not in UNREAD_NAMESPACES
        ):
            return False
    return True


def _plain_entry(counts: Counter[str], atom: bool) -> bool:
    """An entry without repeated or nested fields, which the two parsers resolve
    differently (several dc:creator, an image inside a category, an entry's own
    atom:link beside its link, XHTML content, a guid standing in for the link)."""
    if any(counts[name] > 1 for name in SINGLE):
        return False
    banned = NOT_IN_ENTRY if atom else NOT_IN_ITEM
    if not atom and counts["guid"] and not counts["link"]:
        return False  # feedparser takes a permalink guid as the link
    return not any(name in counts for name in banned) and not any(
        name.endswith("#xhtml") for name in counts
    )


def _plain_text(body: bytes) -> bool:
    """Whether the body's characters are as feedparser leaves them: UTF-8, with no
    C1 control (feedparser reads those as the Windows-1252 characters meant)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not (_C1_RAW.search(body) or _C1_REF.search(body))


def _xml_media_type(content_type: str) -> bool:
    """Whether feedparser takes the Content-Type as XML (else it warns)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/xml", "text/xml") or media.endswith("+xml")


def _shape(body: bytes, content_type: str) -> _Shape | None:
    """The body's shape when this module reads it as feedparser would; else None."""
    if not _xml_media_type(content_type) or _charset(content_type) not in ("", *_UTF8):
        return None
    if b"xml:base" in body:
        return None
    head = body[len(_BOM) :] if body.startswith(_BOM) else body.lstrip()
    declared = _DECLARED.match(head)
    if declared and declared.group(1).decode("ascii").lower() not in _UTF8:
        return None
    if not _plain_text(body):
        return None
    shape = _scan(body)
    if shape is None or shape.doctype:
        return None
    atom = shape.root == f"{ATOM} feed"
    if not all(_plain_entry(counts, atom) for counts in shape.entries):
        return None
    if shape.root == "rss" and shape.version == "2.0" and _known(shape.names, RSS_ELEMENTS):
        shape.version = "rss20"
        return shape
    if atom and _known(shape.names, ATOM_ELEMENTS):
        shape.version = "atom10"
        return shape
    return None


def _struct(value: object) -> time.struct_time | None:
    """An ISO 8601 string as feedparser's UTC struct_time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).timetuple()


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [dict(v) for v in value if isinstance(v, Mapping)]


def _media(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    # feedparser keeps attributes as text: `media` compares widths it reads as text.
    return [
        {k: str(v) if isinstance(v, int) else v for k, v in m.items()}
        for m in _dicts(entry.get("media_content"))
    ]


def _links(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    links = _dicts(entry.get("links"))
    links.extend(
        {"rel": "enclosure", "href": e.get("url"), "type": e.get("type")}
        for e in _dicts(entry.get("enclosures"))
    )
    return links


def _summary_type(counts: Counter[str], atom: bool) -> str | None:
    """The MIME type feedparser gives the entry's summary; None: the entry has none
    (fastfeedparser's description is then made up from the content)."""
    if not atom:
        return "text/html" if counts["description"] else None
    if not counts[f"{ATOM} summary"]:
        return None
    return "text/html" if counts[f"{ATOM} summary#html"] else "text/plain"


def _entry(entry: Mapping[str, Any], counts: Counter[str], atom: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        key: entry[key]
        for key in ("title", "link", "author", "authors", "tags")
        if entry.get(key) is not None
    }
    # fastfeedparser makes an id up from the link when the entry has none.
    if (counts["guid"] or counts[f"{ATOM} id"]) and entry.get("id") is not None:
        out["id"] = entry["id"]
    if counts[f"{ATOM} content"] or counts[f"{CONTENT} encoded"]:
        out["content"] = _dicts(entry.get("content"))
    summary_type = _summary_type(counts, atom)
    if summary_type and entry.get("description") is not None:
        out["summary"] = entry["description"]
        out["summary_detail"] = {"type": summary_type}
    media = _media(entry)
    out["links"] = _links(entry)
    out["published_parsed"] = _struct(entry.get("published"))
    out["updated_parsed"] = _struct(entry.get("updated"))
    out["media_content"] = media
    out["media_credit"] = [{"content": m["credit"]} for m in media if m.get("credit")]
    return out


def parse_fast(body: bytes, content_type: str) -> dict[str, Any] | None:
    """feedparser's result for `body`, read by fastfeedparser; None: ask feedparser."""
    shape = _shape(body, content_type)
    if shape is None:
        return None
    try:
        result = fastfeedparser.parse(body)
    except Exception:  # whatever it cannot read, feedparser reads
        return None
    entries = [e for e in result.get("entries") or [] if isinstance(e, Mapping)]
    if len(entries) != len(shape.entries):
        return None
    atom = shape.version == "atom10"
    return {
        "version": shape.version,
        "bozo": False,
        "feed": dict(result.get("feed") or {}),
        "entries": [_entry(e, c, atom) for e, c in zip(entries, shape.entries, strict=True)],
    }
