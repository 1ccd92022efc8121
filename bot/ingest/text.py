"""Text out of feed HTML: plain text, ledes, photo credits, first image, safe HTML.

What it does: `html_to_text` turns an HTML fragment into plain text (tags dropped,
entities decoded, script/style contents gone, block elements become line breaks,
whitespace collapsed); `trim_text` shortens text to a sentence-ish length at a word
boundary; `split_credit` takes a "Top photo credit: ..." line (the site's habit)
out of a description; `first_image` finds the first real <img> of a fragment;
`sanitise_html` keeps only harmless HTML (nh3: no script, style, iframe, event
handlers or javascript: URLs).
What it does not do: decide which feed field feeds which `Item` field (that is
`normalise`), or render anything.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin

import nh3

# Feeds are untrusted: one entry's HTML never costs more than this to read.
MAX_HTML_CHARS = 500_000
LEDE_CHARS = 300

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
# Elements whose text is never shown to a reader.
_HIDDEN_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "head",
        "select",
        "textarea",
    ]
)
_REMOVED_WITH_CONTENT = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "applet",
        "frame",
        "frameset",
        "svg",
        "math",
        "form",
        "select",
        "textarea",
        "button",
    ]
)
_CLEANER_TAGS = nh3.ALLOWED_TAGS - {"map", "area", "nav"}
_URL_SCHEMES = frozenset(["http", "https", "mailto"])
_CLEANER = nh3.Cleaner(
    tags=_CLEANER_TAGS,
    clean_content_tags=set(_REMOVED_WITH_CONTENT),
    url_schemes=set(_URL_SCHEMES),
)

# An href or src that is not absolute (no scheme): it needs a base to mean anything.
# Searched in the lower-cased fragment, without a word boundary: a pattern that
# starts with a literal is searched several times faster (hence one pattern per
# attribute: "(?:href|src)" is not a literal), and a false match ("data-href=")
# only sends the fragment through the slower resolving cleaner.
# Possessive: a quote, once read, is not given back to let `"https:` pass as relative.
_RELATIVE_LINKS = tuple(
    re.compile(attribute + r"""\s*+=\s*+["']?+\s*+(?![a-z][a-z0-9+.\-]*:)""")
    for attribute in ("href", "src")
)
_LINK_ATTRIBUTES = frozenset(["href", "src"])

# Tags that may stand bare (no attributes) in a fragment read without the HTML
# parser: block tags and inline tags without hidden text, none of which the parser
# reads as raw text (as it does script, style, title, textarea...).
_BARE_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*+)>")
_BARE_TAGS = _BLOCK_TAGS | frozenset(
    [
        "a",
        "abbr",
        "b",
        "cite",
        "code",
        "em",
        "i",
        "mark",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "u",
    ]
)
_CREDIT_LINE = re.compile(
    r"^(?:top\s+)?(?:photo|image|picture)\s+credit\s*[:：\-–—]\s*(?P<credit>\S.*)$",
    re.IGNORECASE,
)
# A full stop after one of these does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "sen",
        "rep",
        "gov",
        "lt",
        "col",
        "sgt",
        "capt",
        "maj",
        "jr",
        "sr",
        "vs",
        "etc",
        "no",
        "pres",
        "prof",
        "adm",
    ]
)
_SENTENCE_END = re.compile(r"(?P<word>\S*)[.!?…][”\"’')\]]*(?=\s)")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.image: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "img" and self.image is None and not self.hidden:
            self.image = _image_src(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _image_src(attrs: dict[str, str | None]) -> str | None:
    src = (attrs.get("src") or "").strip()
    # 1x1 images are tracking pixels, data: URIs have no place in an email.
    if not src or src.lower().startswith("data:"):
        return None
    if "1" in (attrs.get("width"), attrs.get("height")):
        return None
    return src


def _parse(html: str) -> _TextParser:
    parser = _TextParser()
    parser.feed(html[:MAX_HTML_CHARS])
    parser.close()
    return parser


def collapse(text: str) -> str:
    """Whitespace runs (line breaks too) become one space; ends trimmed."""
    return " ".join(text.split())


def html_lines(html: str) -> list[str]:
    """The fragment's text, one entry per block (paragraph, list item, line break)."""
    text = _bare_text(html[:MAX_HTML_CHARS])
    if text is None:
        text = "".join(_parse(html).parts)
    # str.split() and the re module agree on what is whitespace: this collapses
    # the spaces within each line and trims it.
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return [line for line in lines if line]


def _bare_text(html: str) -> str | None:
    """What `_TextParser` collects from a fragment of text and bare `_BARE_TAGS`
    (most feed descriptions), read with one regex; None for any other fragment."""
    parts: list[str] = []
    pos = tags = 0
    for match in _BARE_TAG.finditer(html):
        parts.append(html[pos : match.start()])
        name = match[2].lower()
        if name not in _BARE_TAGS:
            return None
        if name in _BLOCK_TAGS:
            parts.append("\n")
        pos = match.end()
        tags += 1
    if html.count("<") != tags:  # a comment, a tag with attributes, a stray "<"...
        return None
    parts.append(html[pos:])
    if "&" in html:  # the parser decodes references in each run of text on its own
        parts = [unescape(part) if "&" in part else part for part in parts]
    return "".join(parts)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed to single spaces."""
    return collapse(" ".join(html_lines(html)))


def first_image(html: str) -> str | None:
    """The src of the first <img> that is not a tracking pixel or a data: URI."""
    if "<img" not in html.lower():
        return None
    return _parse(html).image


def sanitise_html(html: str, base: str | None = None) -> str:
    """HTML safe to store and show: see the module docstring. With `base`, relative
    href and src values are made absolute against it."""
    if not html.strip():
        return ""
    html = html[:MAX_HTML_CHARS]
    if base and _has_relative_link(html.lower()):
        return _resolving_cleaner(base).clean(html).strip()
    return _CLEANER.clean(html).strip()


def _has_relative_link(lowered: str) -> bool:
    return any(pattern.search(lowered) for pattern in _RELATIVE_LINKS)


def _resolving_cleaner(base: str) -> nh3.Cleaner:
    # Built only for the rare fragment with relative links: the filter runs in
    # Python for every attribute.
    def resolve(element: str, attribute: str, value: str) -> str | None:
        if attribute in _LINK_ATTRIBUTES and value:
            try:
                return urljoin(base, value.strip())
            except ValueError:
                return None
        return value

    return nh3.Cleaner(
        tags=_CLEANER_TAGS,
        clean_content_tags=set(_REMOVED_WITH_CONTENT),
        url_schemes=set(_URL_SCHEMES),
        attribute_filter=resolve,
    )


def split_credit(lines: list[str]) -> tuple[list[str], str | None]:
    """Take the first photo-credit line out of `lines`: (other lines, credit or None)."""
    for i, line in enumerate(lines):
        match = _CREDIT_LINE.match(line.strip())
        if match:
            return lines[:i] + lines[i + 1 :], collapse(match.group("credit"))
    return lines, None


def trim_text(text: str, limit: int = LEDE_CHARS) -> str:
    """`text` cut to about `limit` characters.

    Ends at the last sentence end between half the limit and 15% past it, so a
    sentence that just overruns is kept whole; without one, cuts at the last word
    boundary within the limit and adds an ellipsis.
    """
    text = collapse(text)
    if len(text) <= limit:
        return text
    # The space stands for what follows the text: its very end may end a sentence.
    end = _last_sentence_end((text + " ")[: limit + limit * 15 // 100 + 1])
    if end >= limit // 2:
        return text[:end].rstrip()
    head = text[: limit + 1]
    space = head.rfind(" ")
    cut = space if space >= limit // 2 else limit
    return head[:cut].rstrip(" ,;:–—-") + "…"


def _last_sentence_end(text: str) -> int:
    last = 0
    for match in _SENTENCE_END.finditer(text):
        word = match.group("word").strip("“\"‘'([").casefold()
        # "U.S." or "Mr." end abbreviations, not sentences.
        if "." in word or word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        last = match.end()
    return last
