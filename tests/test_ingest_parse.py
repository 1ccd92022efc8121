"""parse_feed on hand-written fixtures (golden files), on hostile XML and on non-feeds.

The fixtures in tests/fixtures/feeds/ each have `<name>.expected.json` beside them,
checked by eye. `ROUNDUP_UPDATE_GOLDEN=1` rewrites them from the current code
(`make golden`); review the diff before keeping it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ParseError
from bot.ingest import parse_feed
from bot.ingest.parse import MAX_ENTRIES
from bot.types import Item

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p.stem for p in FEEDS.glob("*.xml"))
GOLDEN_FIELDS = (
    "key",
    "title",
    "url",
    "canonical_url",
    "lede",
    "author",
    "tags",
    "published",
    "updated",
    "image_url",
    "image_credit",
)
RSS_HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def _golden_item(item: Item) -> dict[str, Any]:
    data = asdict(item)
    out = {name: data[name] for name in GOLDEN_FIELDS}
    out["tags"] = list(item.tags)
    for name in ("published", "updated"):
        value = getattr(item, name)
        out[name] = value.isoformat() if value else None
    return out


def _rss(items: str, *, head: str = "", channel: str = "<title>T</title>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0"><channel>{channel}'
        f"{items}</channel></rss>"
    ).encode()


# --- golden fixtures ------------------------------------------------------------


def test_every_fixture_has_a_golden_file() -> None:
    assert {"rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup"} <= set(FIXTURES)
    for name in FIXTURES:
        assert (FEEDS / f"{name}.expected.json").is_file(), name


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_feed_matches_golden(name: str) -> None:
    golden_path = FEEDS / f"{name}.expected.json"
    golden = json.loads(golden_path.read_text(encoding="utf-8"))
    parsed = parse_feed(
        (FEEDS / f"{name}.xml").read_bytes(),
        {"content-type": golden["content_type"]},
        golden["feed_url"],
        "fixture",
    )
    got = {
        "feed_url": golden["feed_url"],
        "content_type": golden["content_type"],
        "title": parsed.title,
        "warnings": list(parsed.warnings),
        "items": [_golden_item(item) for item in parsed.items],
    }
    if os.environ.get("ROUNDUP_UPDATE_GOLDEN"):
        golden_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert got == golden
    assert all(item.feed == "fixture" for item in parsed.items)


def test_seed_feed_reads_the_way_the_site_shows_it() -> None:
    parsed = parse_feed(
        (FEEDS / "seed_roundup.xml").read_bytes(),
        RSS_HEADERS,
        "https://responsiblestatecraft.org/feeds/feed.rss",
        "rs",
    )
    by_title = {item.title: item for item in parsed.items}
    takaichi = by_title["Takaichi 101: How to torpedo relations with China in a month"]
    assert takaichi.lede.startswith("On November 7, Prime Minister Sanae Takaichi")
    assert "credit" not in takaichi.lede.lower()  # the credit line left the lede...
    assert takaichi.image_credit == (
        "Prime Minister Sanae Takaichi 首相官邸 (Cabinet Public Affairs Office)"
    )  # ... for the credit
    sudan = by_title["Saudi leans in hard to get UAE out of Sudan civil war"]
    assert sudan.image_credit is not None and sudan.image_credit.endswith("REUTERS/El Tayeb Siddig")
    assert sudan.tags == ("Middle East",)  # " Middle East " repeated: trimmed, kept once
    idlib = by_title["Idlib exposes limits of Russia and Turkey’s strategic partnership"]
    assert idlib.tags == ("Middle East", "Analysis")
    assert idlib.image_credit == "quetions123/shutterstock"  # media:credit
    assert "utm_" not in idlib.canonical_url and "utm_source" in idlib.url
    for item in parsed.items:
        assert item.published is not None and item.published.utcoffset() is not None
        assert len(item.lede) <= 345


# --- feeds that are not feeds -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/rss+xml", "not a feed: the body is empty"),
        (b"  \n\t ", "application/rss+xml", "not a feed: the body is empty"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>",
            "text/html; charset=utf-8",
            "not a feed: the body is HTML (text/html)",
        ),
        (
            b"<html><body><p>Moved to a new site</p></body></html>",
            "application/xml",
            "not a feed: the body is HTML (application/xml)",
        ),
        (b'{"items": []}', "application/json", "not a feed: the body is JSON (application/json)"),
        (
            b"Service temporarily unavailable",
            "text/plain",
            "not a feed: no RSS, Atom or RDF document found (text/plain)",
        ),
        (
            b'<?xml version="1.0"?><note><to>you</to></note>',
            "application/xml",
            "not a feed: no RSS, Atom or RDF document found (application/xml)",
        ),
        (
            bytes(range(256)) * 4,
            "",
            "not a feed: no RSS, Atom or RDF document found (no Content-Type)",
        ),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><description>x</description',
            "application/rss+xml",
            "malformed feed: not well-formed XML (line 1, column ",
        ),
    ],
)
def test_unusable_bodies_are_parse_errors(body: bytes, content_type: str, message: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with pytest.raises(ParseError) as raised:
        parse_feed(body, headers, "https://example.org/feed", "f")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_body_naming_a_file_is_not_read_as_that_file() -> None:
    fixture = FEEDS / "rss20.xml"
    # feedparser given these bytes directly would open the file they name.
    assert parse_feed(fixture.read_bytes(), RSS_HEADERS, "https://e.org/", "f").items
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(str(fixture).encode(), {"content-type": "text/plain"}, "https://e.org/", "f")


def test_well_formed_empty_feed_is_a_success_with_no_items() -> None:
    parsed = parse_feed(_rss(""), RSS_HEADERS, "https://e.org/feed", "f")
    assert parsed.title == "T"
    assert parsed.items == ()
    assert parsed.warnings == ()


# --- survivable bozo feeds ----------------------------------------------------------


def test_wrong_declared_encoding_is_a_warning_and_text_is_right(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Café</title>'
        "<item><title>Ação em São Paulo</title><link>https://e.org/a</link></item>"
        "</channel></rss>"
    ).encode("latin-1")
    parsed = parse_feed(body, {"content-type": "application/xml"}, "https://e.org/feed", "f")
    assert [item.title for item in parsed.items] == ["Ação em São Paulo"]
    assert parsed.title == "Café"
    assert any(w.startswith("encoding: document declared as utf-8") for w in parsed.warnings)
    assert any("document declared as utf-8" in r.getMessage() for r in caplog.records)


def test_undeclared_namespace_is_a_warning_when_entries_were_read() -> None:
    body = _rss(
        "<item><title>One</title><link>https://e.org/1</link><x:tag>v</x:tag></item>"
        "<item><title>Two</title><link>https://e.org/2</link></item>"
    )
    parsed = parse_feed(body, RSS_HEADERS, "https://e.org/feed", "f")
    assert [item.title for item in parsed.items] == ["One", "Two"]
    assert any("not well-formed XML" in w and "unbound prefix" in w for w in parsed.warnings)


def test_non_xml_content_type_is_a_warning() -> None:
    body = _rss("<item><title>One</title><link>https://e.org/1</link></item>")
    parsed = parse_feed(body, {"content-type": "text/plain"}, "https://e.org/feed", "f")
    assert len(parsed.items) == 1
    assert parsed.warnings == ("content type: text/plain is not an XML media type",)


def test_entries_beyond_the_cap_are_not_read() -> None:
    items = "".join(
        f"<item><title>n{i}</title><link>https://e.org/{i}</link></item>"
        for i in range(MAX_ENTRIES + 5)
    )
    parsed = parse_feed(_rss(items), RSS_HEADERS, "https://e.org/feed", "f")
    assert len(parsed.items) == MAX_ENTRIES
    assert (
        parsed.warnings[0] == f"{MAX_ENTRIES + 5} entries; only the first {MAX_ENTRIES} were read"
    )


# --- hostile XML ------------------------------------------------------------------

LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)
BILLION_LAUGHS_MULTILINE = _rss(
    "<item><title>&lol9;</title><link>https://e.org/a</link><description>&lol9;</description></item>",
    head="\n<!DOCTYPE rss [\n" + LAUGHS.replace("><", ">\n<") + "\n]>\n",
)
BILLION_LAUGHS_ONE_LINE = _rss(
    "<item><title>&lol9;</title><link>https://e.org/a</link></item>",
    head=f"<!DOCTYPE rss [{LAUGHS}]>",
)
# One "safe" literal, referenced again and again: no nesting, still a multiplier.
QUADRATIC = _rss(
    "<item><title>x</title><link>https://e.org/a</link>"
    f"<description>{'&big;' * 20_000}</description></item>",
    head=f'<!DOCTYPE rss [<!ENTITY big "{"B" * 50_000}">]>',
)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (BILLION_LAUGHS_MULTILINE, "the entity &lol1; built from other entities"),
        (BILLION_LAUGHS_ONE_LINE, "the entity &lol1; built from other entities"),
        (QUADRATIC, "the entity &big; of 50000 characters"),
        (
            _rss("<item><title>%x;</title></item>", head='<!DOCTYPE rss [<!ENTITY % x "y">]>'),
            "the parameter entity %x;",
        ),
        (
            # The same bomb in UTF-16: the guard reads wide encodings too.
            BILLION_LAUGHS_ONE_LINE.decode().replace("utf-8", "utf-16").encode("utf-16"),
            "the entity &lol1; built from other entities",
        ),
    ],
)
def test_entity_expansion_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_feed(body, RSS_HEADERS, "https://e.org/feed", "f")
    assert str(raised.value).startswith(f"refused: the document's DTD declares {problem}")


def test_external_entities_are_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-VALUE")
    for system_id in (secret.as_uri(), "http://127.0.0.1:9/entity"):
        body = _rss(
            "<item><title>leak: &xxe;</title><link>https://e.org/a</link></item>",
            head=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{system_id}">]>',
        )
        with pytest.raises(ParseError, match=r"refused: .*the external entity &xxe;"):
            parse_feed(body, RSS_HEADERS, "https://e.org/feed", "f")


def test_declared_but_harmless_entities_still_work() -> None:
    body = _rss(
        "<item><title>News from &org; &copy;</title><link>https://e.org/a</link></item>",
        head='\n<!DOCTYPE rss [\n<!ENTITY org "Example Org">\n<!ENTITY copy "&#169;">\n]>\n',
        channel="<title>&org;</title>",
    )
    parsed = parse_feed(body, RSS_HEADERS, "https://e.org/feed", "f")
    assert parsed.title == "Example Org"
    assert [item.title for item in parsed.items] == ["News from Example Org ©"]


def test_bombs_stay_small_in_memory(tmp_path: Path) -> None:
    """Parse every bomb in a fresh interpreter and read its peak memory."""
    script = tmp_path / "bombs.py"
    for name, body in (("laughs", BILLION_LAUGHS_ONE_LINE), ("quadratic", QUADRATIC)):
        (tmp_path / f"{name}.xml").write_bytes(body)
    script.write_text(
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from bot.errors import ParseError\n"
        "from bot.ingest import parse_feed\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for path in sorted(Path(sys.argv[1]).glob('*.xml')):\n"
        "    try:\n"
        "        parse_feed(path.read_bytes(), {}, 'https://e.org/', 'f')\n"
        "    except ParseError:\n"
        "        pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    grown_kib = int(done.stdout.strip())
    assert grown_kib < 50_000, f"parsing the bombs grew memory by {grown_kib} KiB"


# --- HTML in feeds is harmless -------------------------------------------------------


def test_script_and_handlers_in_titles_and_content_are_harmless() -> None:
    body = _rss(
        "<item><title>&lt;script&gt;alert(1)&lt;/script&gt;Real &lt;img src=x "
        "onerror=alert(2)&gt;title</title>"
        "<link>javascript:alert(3)</link><guid isPermaLink='false'>g1</guid>"
        "<description>&lt;a href='javascript:alert(4)' onmouseover='alert(5)'&gt;lede&lt;/a&gt;"
        "</description>"
        "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'><![CDATA["
        "<p onclick='alert(6)'>Body</p><script>alert(7)</script><iframe src='https://evil.example/'>"
        "</iframe><img src='https://e.org/i.jpg' onerror='alert(8)'><a href='javascript:alert(9)'>"
        "x</a><style>*{display:none}</style>]]></content:encoded></item>"
    )
    (item,) = parse_feed(body, RSS_HEADERS, "https://e.org/feed", "f").items
    assert item.title == "Real title"
    assert item.lede == "lede"
    assert item.url == "" and item.canonical_url == ""  # a javascript: link is no link
    for fragment in ("script", "alert", "onerror", "onclick", "iframe", "javascript", "style"):
        assert fragment not in item.content.lower()
    assert '<img src="https://e.org/i.jpg">' in item.content
    assert item.image_url == "https://e.org/i.jpg"


def test_keys_come_from_guid_else_link_else_title_and_time() -> None:
    body = _rss(
        "<item><title>Guid</title><link>https://e.org/g?utm_source=x</link>"
        "<guid isPermaLink='false'>  guid-1  </guid></item>"
        "<item><title>Link</title><link>https://E.org/l?utm_source=x#top</link></item>"
        "<item><title>Neither</title><pubDate>Fri, 20 Nov 2026 12:00:00 GMT</pubDate></item>"
        f"<item><title>Long guid</title><guid isPermaLink='false'>{'g' * 600}</guid></item>"
    )
    keys = [item.key for item in parse_feed(body, RSS_HEADERS, "https://e.org/", "f").items]
    assert keys[:2] == ["guid-1", "https://e.org/l"]
    neither = hashlib.sha256(b"Neither\n2026-11-20T12:00:00+00:00").hexdigest()
    assert keys[2] == f"sha256:{neither}"
    assert keys[3] == f"sha256:{hashlib.sha256(b'g' * 600).hexdigest()}"
