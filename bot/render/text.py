"""Text handling for the round-up: untrusted strings in, safe strings out.

What it does: turns feed and editor text into bounded plain text (`plain`), renders
the editors' Markdown intro to sanitised HTML (`intro_html`) and to wrapped plain
text with numbered links (`html_to_text`), and wraps text at 72 columns (`wrap`).
What it does not do: decide layout (the templates do) or escape for HTML (Jinja's
autoescape does, at the last moment).
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass, field
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

from bot.render.tokens import neutralise

WIDTH = 72
MAX_INTRO_CHARS = 20_000  # Markdown source; an intro is a few paragraphs
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_TAG_LIKE = re.compile(r"<[/!?a-zA-Z]")
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_INTRO_TAGS = {"p", "a", "em", "strong", "ul", "ol", "li", "br", "blockquote", "code"}


def plain(text: str | None, limit: int) -> str:
    """`text` as one line of plain text, at most `limit` characters.

    Markup is removed (a ``<script>`` with its content), entities decoded,
    whitespace and control characters collapsed, token look-alikes defused. The
    input is cut to a multiple of `limit` before any parsing, so a huge field costs
    no more than a long one.
    """
    if not text:
        return ""
    text = strip_markup(text[: limit * 8])
    # str.split() splits on exactly the characters regex \s matches, and runs in C:
    # a long lede costs a tenth of what re.sub(r"\s+", " ", ...) does.
    text = " ".join(_CONTROL.sub(" ", text).split())
    return neutralise(truncate(text, limit))


def strip_markup(text: str) -> str:
    """`text` without tags (a script's content goes too), entities decoded.

    Escaped markup (``&lt;script&gt;``) decodes into markup, so this strips again,
    a few rounds at most: no tag reaches either part, even as text.
    """
    for _ in range(3):
        if "<" not in text and "&" not in text:
            return text
        text = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
        if not _TAG_LIKE.search(text):
            return text
    return _TAG_LIKE.sub("", text)


def truncate(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

    def validate_link(url: str) -> bool:
        return url.strip().lower().startswith(_LINK_SCHEMES)

    # markdown-it leaves a refused link as its literal source text, never an href.
    md.validateLink = validate_link  # type: ignore[method-assign]
    return md


_MD = _markdown()


def intro_html(markdown: str) -> str:
    """The editors' intro as sanitised HTML: paragraphs, lists, emphasis, links."""
    source = _CONTROL.sub("", markdown[:MAX_INTRO_CHARS]).strip()
    if not source:
        return ""
    rendered = _MD.render(source)
    cleaned = nh3.clean(
        rendered,
        tags=_INTRO_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )
    return neutralise(cleaned.strip())


@dataclass
class LinkRefs:
    """Numbered links of a plain-text part, ``[1]`` first; a URL keeps its number."""

    numbers: dict[str, int] = field(default_factory=dict)

    def ref(self, url: str) -> int:
        return self.numbers.setdefault(url, len(self.numbers) + 1)

    def listing(self) -> list[tuple[int, str]]:
        return [(n, url) for url, n in self.numbers.items()]


class _TextParser(HTMLParser):
    """Collects the blocks of sanitised intro HTML as (prefix, text) pairs."""

    def __init__(self, refs: LinkRefs) -> None:
        super().__init__(convert_charrefs=True)
        self.refs = refs
        self.blocks: list[tuple[str, str]] = []
        self.parts: list[str] = []
        self.prefix = ""
        self.lists: list[list[int]] = []  # per open list: [ordered?, counter]
        self.href: str | None = None

    def flush(self) -> None:
        text = "".join(self.parts).strip()
        if text:
            self.blocks.append((self.prefix, text))
        self.parts, self.prefix = [], ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "blockquote"):
            self.flush()
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            self.flush()
            if self.lists:
                self.lists[-1][1] += 1
                ordered, n = self.lists[-1]
                self.prefix = f"{n}. " if ordered else "- "
            else:
                self.prefix = "- "
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href:
            self.parts.append(f" [{self.refs.ref(self.href)}]")
            self.href = None
        elif tag in ("p", "li", "blockquote"):
            self.flush()
        elif tag in ("ul", "ol") and self.lists:
            self.flush()
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str, refs: LinkRefs) -> list[str]:
    """Sanitised intro HTML as wrapped plain-text paragraphs, links numbered."""
    parser = _TextParser(refs)
    parser.feed(fragment)
    parser.close()
    parser.flush()
    out = []
    for prefix, text in parser.blocks:
        # The HTML shows an editor's raw tags as text; the text part drops them.
        lines = [_SPACE.sub(" ", strip_markup(line)).strip() for line in text.split("\n")]
        out.append("\n".join(wrap(line, indent=prefix) for line in lines if line))
    return out


def wrap(text: str, *, indent: str = "", width: int = WIDTH) -> str:
    """`text` wrapped at `width` columns; a word longer than a line (a URL) stays whole.

    What `textwrap.fill` does with ``break_long_words=False`` and
    ``break_on_hyphens=False``; text of single-spaced words (all that `plain`
    gives) takes a greedy loop five times as fast, anything else goes to textwrap.
    """
    words = text.split()
    if " ".join(words) != text or "\t" in indent or not words:
        return textwrap.fill(
            text,
            width=width,
            initial_indent=indent,
            subsequent_indent=" " * len(indent),
            break_long_words=False,
            break_on_hyphens=False,
        )
    room = width - len(indent)  # every line is indented alike (the first by `indent`)
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for word in words:
        if line and used + 1 + len(word) > room:
            lines.append(" ".join(line))
            line, used = [], 0
        used += len(word) + (1 if line else 0)
        line.append(word)
    lines.append(" ".join(line))
    pad = " " * len(indent)
    return "\n".join((indent if n == 0 else pad) + body for n, body in enumerate(lines))
