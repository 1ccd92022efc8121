"""The fast paths of normalising give exactly what the general code gives.

`urls` takes a shortcut for a link that is already clean (absolute http(s), nothing
to re-encode): `resolve_link`, `clean_url` and `canonical_url` must return what
splitting, joining and re-encoding would have returned, and refuse the same URLs
with the same message. `text.html_lines` reads a fragment of text and bare tags
without the HTML parser: it must collect the very text the parser collects.
`text.sanitise_html` looks for relative links with one literal-led pattern per
attribute: it must find one exactly when the single pattern it replaces does.
Tables pin the edge cases each rule of a shortcut exists for; property tests
compare both paths on input built from the troublesome pieces.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.text import _bare_text, _has_relative_link, _parse, html_lines
from bot.ingest.urls import (
    UrlDropped,
    _already_clean,
    _canonical,
    _clean,
    canonical_url,
    clean_url,
    resolve_link,
)

BASES = [
    "https://example.org/feed",
    "http://Example.ORG:8080/a/b/feed.xml?x=1#f",
    "",
    "http://[::1",  # urljoin cannot split it: even an absolute link fails
    "http://ex\uff03ample.org/",  # nor this one (NFKC makes a "#" of the host)
    "https://exämple.org/",
    "https://example.org/?a[]=1",
    "ftp://example.org/",
]


def _outcome(work: object, *args: str) -> str:
    try:
        return "ok " + work(*args)  # type: ignore[operator]
    except UrlDropped as exc:
        return f"dropped {exc}"


def _slow_resolve(link: str, base: str) -> str:
    try:
        absolute = urljoin(base, link.strip())
    except ValueError as exc:
        raise UrlDropped(f"not a valid URL ({exc})") from None
    return _clean(absolute)


def _same_everywhere(url: str) -> None:
    assert _outcome(clean_url, url) == _outcome(_clean, url)
    assert canonical_url(url) == _canonical(url.strip())
    for base in BASES:
        if url.strip():
            assert _outcome(resolve_link, url, base) == _outcome(_slow_resolve, url, base)


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://example.org/a/b-c_d.e~f", True),
        ("http://news.example.org/2026/11/story?id=1&utm_source=x#top", True),
        ("https://Example.ORG./Path/", True),
        ("https://example.org/caf%C3%A9", True),
        ("https://example.org/q?a=%2F&b=c;d", True),
        ("https://example.org/%7Euser", False),  # an escaped unreserved character is decoded
        ("https://example.org/caf%c3%a9", False),  # escapes go upper case
        ("https://example.org", False),  # the path becomes "/"
        ("https://example.org/a;b", False),  # urljoin reads ";b" as params
        ("https://example.org/a;", False),  # ... and drops empty ones
        ("https://example.org/a?", False),  # an empty query is dropped
        ("https://example.org/a#", False),  # so is an empty fragment
        ("https://example.org/it's", False),  # the apostrophe becomes %27
        ("https://example.org/a#b#c", False),  # the second # is escaped
        ("https://example.org:443/a", False),  # ports are left to the general code
        ("https://user@example.org/a", False),
        ("HTTPS://example.org/a", False),  # the scheme is lower-cased
        ("https://-bad.example.org/a", False),  # refused: not a host name
        ("https://exämple.org/a", False),  # IDNA
        ("https://example.org/a b", False),
        ("https://example.org/" + "a" * 2048, False),  # too long
        ("ftp://example.org/a", False),
    ],
)
def test_which_urls_take_the_shortcut(url: str, clean: bool) -> None:
    assert (_already_clean(url) is not None) is clean
    _same_everywhere(url)


PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "ftp://",
        "//",
        "example.org",
        "Ex.ORG.",
        "-x",
        "é",
        "[::1]",
        ":80",
        ":0443",
        "u@",
        "/",
        "a",
        "Z9",
        "-._~",
        "!$&()*+,=:@",
        ";",
        "'",
        "?",
        "#",
        "=",
        "&",
        "utm_source=x",
        "%",
        "%2F",
        "%2f",
        "%41",
        "%7E",
        "%C3%A9",
        "%zz",
        " ",
        "\t",
        '"',
        "<",
        "\\",
        "\x00",
        "..",
        "./",
    ]
)


@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_shortcut_changes_no_result(url: str) -> None:
    _same_everywhere(url)


@given(
    st.sampled_from(["http://", "https://"]),
    st.text("abcXYZ019-._", min_size=1, max_size=12),
    st.lists(PIECES, max_size=8).map("".join),
)
def test_the_shortcut_changes_no_result_for_urlish_text(scheme: str, host: str, rest: str) -> None:
    _same_everywhere(f"{scheme}{host}/{rest}")


def _same_text(html: str) -> str | None:
    bare = _bare_text(html)
    if bare is not None:
        assert bare == "".join(_parse(html).parts)
    # Each line's whitespace collapsed as the regex the lines were once cleaned with.
    text = "".join(_parse(html).parts)
    lines = (re.sub(r"[^\S\n]+", " ", line).strip() for line in text.split("\n"))
    assert html_lines(html) == [line for line in lines if line]
    return bare


@pytest.mark.parametrize(
    ("html", "lines"),
    [
        ("<p>One &amp; two</p><p>Top photo credit: X</p>", ["One & two", "Top photo credit: X"]),
        ("<P>a<BR>b<br>c</P>", ["a", "b", "c"]),
        ("a &lt;b&gt; &#39;c&#39; &nbsp;d &amp", ["a <b> 'c' d &"]),
        ("<em>a</em> <strong>b</strong>\n\tc", ["a b", "c"]),
        ("  \x1c a \u2028 b  ", ["a b"]),
        ("<p>a</p><script>hidden</script>", None),  # hidden text: the parser reads it
        ("<title>a &amp; b</title>", None),  # raw text in newer parsers
        ('<p class="x">a</p>', None),  # attributes
        ("<br/>a", None),
        ("a <!-- c --> b", None),
        ("a < b", None),
        ("<img>", None),
        ("", []),
    ],
)
def test_which_fragments_skip_the_parser(html: str, lines: list[str] | None) -> None:
    assert (_same_text(html) is not None) is (lines is not None)
    if lines is not None:
        assert html_lines(html) == lines


FRAGMENTS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<P>",
        "<br>",
        "<br/>",
        "<em>",
        "</EM>",
        "<span>",
        "<h2>",
        "</li>",
        "<script>",
        "</script>",
        "<title>",
        "<textarea>",
        '<img src="x.jpg">',
        '<a href="/x">',
        "</a>",
        "<!-- c -->",
        "<",
        ">",
        "</",
        "&amp;",
        "&",
        "&#39;",
        "&#x27",
        "&lt;",
        "&nbsp;",
        "&notin;",
        "a",
        "Word.",
        " ",
        "\n",
        "\t",
        "\r",
        "\x0c",
        "\u2028",
        "\xa0",
    ]
)


@given(st.lists(FRAGMENTS, max_size=16).map("".join))
def test_the_parserless_text_is_the_parsers_text(html: str) -> None:
    _same_text(html)


# The single pattern: (?:href|src) is not a literal, so the search is slower.
ONE_PATTERN = re.compile(r"""(?:href|src)\s*+=\s*+["']?+\s*+(?![a-z][a-z0-9+.\-]*:)""")
ATTRIBUTE_PIECES = st.sampled_from(
    [
        "href",
        "src",
        "hre",
        "srcset",
        "=",
        " ",
        "\n",
        '"',
        "'",
        "https:",
        "x:",
        "/a",
        "#",
        "<a ",
        ">",
    ]
)


@given(st.lists(ATTRIBUTE_PIECES, max_size=12).map("".join))
def test_relative_links_are_found_as_before(lowered: str) -> None:
    assert _has_relative_link(lowered) is (ONE_PATTERN.search(lowered) is not None)
