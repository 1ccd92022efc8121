"""Rendering the round-up: sections, safety, region sets, size, text, tokens, hash."""

from __future__ import annotations

import random
import re
import shutil
import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.errors import ConfigError, NotFoundError, SendError
from bot.render import (
    SUBSTITUTIONS,
    content_hash,
    edition_sections,
    fill,
    render_edition,
    templates_dir,
    token,
)
from bot.render.text import intro_html, plain, truncate, wrap
from bot.render.tokens import Filler, find_tokens
from bot.types import Edition, EditionEntry, EditionState, Item, StoredItem
from tests.render_editions import fixture_config, fixture_edition, full_edition

CONFIG = fixture_config()
GMAIL_CLIP = 102_000  # bytes; Gmail clips a message body past about 102 KB


def item(key: str, **fields: Any) -> StoredItem:
    base: dict[str, Any] = {
        "key": key,
        "feed": "rs",
        "url": f"https://rs.org/{key}/",
        "canonical_url": f"https://rs.org/{key}/",
        "title": f"Title {key}",
        "lede": f"Lede of {key}.",
        "author": "Ann Author",
        "tags": ("Analysis",),
        "image_url": f"https://rs.org/{key}.jpg",
        "image_credit": f"Credit {key}",
    }
    region = fields.pop("region", "Middle East")
    return StoredItem(item=Item(**(base | fields)), region=region)


def edition(*entries: EditionEntry, **fields: Any) -> Edition:
    base: dict[str, Any] = {
        "key": "2026-W48",
        "state": EditionState.DRAFT,
        "window_start": datetime(2026, 11, 20, 12, tzinfo=UTC),
        "window_end": datetime(2026, 11, 27, 12, tzinfo=UTC),
        "entries": entries,
    }
    return Edition(**(base | fields))


def entry(key: str, region: str = "Middle East", position: int = 0, **fields: Any) -> EditionEntry:
    return EditionEntry(item_key=key, region=region, position=position, **fields)


# --- grouping ----------------------------------------------------------------


def test_sections_follow_config_order_then_position_fallback_last() -> None:
    e = edition(
        entry("f", "More from the site", 0),
        entry("e2", "Europe", 1),
        entry("e1", "Europe", 0),
        entry("m", "Middle East", 5),
        entry("x", "Atlantis", 0),  # a region the config no longer names
    )
    items = {k: item(k) for k in ("f", "e1", "e2", "m", "x")}
    sections = edition_sections(e, items, CONFIG)
    assert [(s.name, [st.key for st in s.stories]) for s in sections] == [
        ("Middle East", ["m"]),
        ("Europe", ["e1", "e2"]),
        ("More from the site", ["f", "x"]),
    ]
    assert [s.slug for s in sections] == ["middle-east", "europe", "more-from-the-site"]


def test_excluded_entries_and_empty_sections_are_dropped() -> None:
    e = edition(entry("a", "Middle East"), entry("b", "Asia-Pacific", excluded=True))
    items = {"a": item("a"), "b": item("b")}  # an excluded entry's item may even be gone
    assert [s.name for s in edition_sections(e, {"a": items["a"]}, CONFIG)] == ["Middle East"]
    rendered = render_edition(e, items, CONFIG)
    assert rendered.regions == ("Middle East",)
    assert "Asia-Pacific" not in rendered.html and "Asia-Pacific" not in rendered.text
    assert "Title b" not in rendered.html and "Title b" not in rendered.text


def test_an_included_entry_without_its_item_is_an_error_naming_it() -> None:
    with pytest.raises(NotFoundError, match="'gone'"):
        edition_sections(edition(entry("gone")), {}, CONFIG)


@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        (None, ["Middle East", "Asia-Pacific", "Europe", "More from the site"]),
        (["Europe"], ["Europe"]),
        (["europe", "MIDDLE EAST"], ["Middle East", "Europe"]),
        (["asia-pacific", "more-from-the-site"], ["Asia-Pacific", "More from the site"]),
        (["Atlantis"], []),
        ([], []),
    ],
)
def test_region_subset(regions: list[str] | None, expected: list[str]) -> None:
    e, items = fixture_edition()
    assert [s.name for s in edition_sections(e, items, CONFIG, regions)] == expected
    rendered = render_edition(e, items, CONFIG, regions=regions)
    assert list(rendered.regions) == expected
    for name in ["Middle East", "Asia-Pacific", "Europe"]:
        heading = f">{name}</td>"
        assert (heading in rendered.html) == (name in expected)


def test_region_subset_renders_only_those_stories() -> None:
    e, items = fixture_edition()
    rendered = render_edition(e, items, CONFIG, regions=["Asia-Pacific"])
    assert rendered.story_count == 2
    assert "Takaichi 101" in rendered.html and "Takaichi 101" in rendered.text
    assert "Idlib" not in rendered.text.split("Links:")[0].split("Asia-Pacific")[1]
    assert "saudi-uae-sudan" not in rendered.html and "saudi-uae-sudan" not in rendered.text


@pytest.mark.parametrize(
    ("fields", "entry_fields", "expected"),
    [
        ({}, {}, {"headline": "Title a", "lede": "Lede of a.", "kicker": "Analysis | Europe"}),
        ({}, {"headline": "Edited"}, {"headline": "Edited"}),
        ({}, {"headline": "   "}, {"headline": "Title a"}),
        ({}, {"lede": "New lede"}, {"lede": "New lede"}),
        ({}, {"lede": ""}, {"lede": ""}),
        ({"tags": ("europe", "opinion", "analysis")}, {}, {"kind": "Opinion"}),
        ({"tags": ("Europe",)}, {}, {"kind": None, "kicker": "Europe"}),
        ({"tags": (" NEWS ",)}, {}, {"kicker": "News | Europe"}),
        ({"author": "By Jane Doe"}, {}, {"author": "Jane Doe"}),
        ({"author": "  "}, {}, {"author": None}),
        ({"image_credit": "Top photo credit: AP/Someone"}, {}, {"image_credit": "AP/Someone"}),
        ({"image_credit": "Top image credit: Reuters"}, {}, {"image_credit": "Reuters"}),
        ({"image_credit": None}, {}, {"image_credit": None, "image_alt": "Title a"}),
        ({"image_url": None}, {}, {"image_url": None, "image_credit": None, "image_alt": ""}),
        ({"image_url": "javascript:alert(1)"}, {}, {"image_url": None}),
        ({"title": "<b>Bold</b> &amp; brave"}, {}, {"headline": "Bold & brave"}),
        ({"title": ""}, {}, {"headline": "Untitled"}),
        ({"url": "javascript:alert(1)", "canonical_url": ""}, {}, {"url": None, "link": None}),
        (
            {"url": "https://rs.org/u?x=1", "canonical_url": "ftp://rs.org/u"},
            {},
            {"url": "https://rs.org/u?x=1"},
        ),
        ({"lede": "word " * 400}, {}, {"lede": ("word " * 119).strip() + "…"}),
    ],
)
def test_story_fields(
    fields: dict[str, Any], entry_fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    e = edition(entry("a", "Europe", **entry_fields))
    (section,) = edition_sections(e, {"a": item("a", **fields)}, CONFIG)
    (story,) = section.stories
    for name, value in expected.items():
        assert getattr(story, name) == value, name


def test_story_link_carries_utm_and_keeps_its_query() -> None:
    e = edition(entry("a"))
    items = {"a": item("a", canonical_url="https://rs.org/a/?p=1#c")}
    (story,) = edition_sections(e, items, CONFIG)[0].stories
    assert story.link == (
        "https://rs.org/a/?p=1&utm_source=newsletter&utm_medium=email"
        "&utm_campaign=weekly-roundup-2026-W48#c"
    )


# --- subject, date, preheader, test sends ------------------------------------


@pytest.mark.parametrize(
    ("window_end", "subject", "expected"),
    [
        (datetime(2026, 11, 27, 12, tzinfo=UTC), "", "Weekly Round-Up: November 27, 2026"),
        # 03:00 UTC on the 28th is still the 27th in New York
        (datetime(2026, 11, 28, 3, tzinfo=UTC), "", "Weekly Round-Up: November 27, 2026"),
        (datetime(2026, 12, 4, 12, tzinfo=UTC), "", "Weekly Round-Up: December 4, 2026"),
        (datetime(2026, 11, 27, 12, tzinfo=UTC), "Sudan, Idlib\r\nBcc: x", "Sudan, Idlib Bcc: x"),
        (datetime(2026, 11, 27, 12, tzinfo=UTC), "<b>Big</b> week", "Big week"),
    ],
)
def test_subject(window_end: datetime, subject: str, expected: str) -> None:
    e = edition(entry("a"), window_end=window_end, subject=subject)
    rendered = render_edition(e, {"a": item("a")}, CONFIG)
    assert rendered.subject == expected
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    test = render_edition(e, {"a": item("a")}, CONFIG, test=True)
    assert test.subject == f"[TEST] {expected}"


def test_subject_template_fields_and_a_bad_one() -> None:
    newsletter = CONFIG.newsletter.model_copy(update={"subject": "{publication} | {edition}"})
    config = CONFIG.model_copy(update={"newsletter": newsletter})
    rendered = render_edition(edition(entry("a")), {"a": item("a")}, config)
    assert rendered.subject == "Responsible Statecraft | 2026-W48"
    bad = CONFIG.model_copy(
        update={"newsletter": CONFIG.newsletter.model_copy(update={"subject": "{nmae}"})}
    )
    with pytest.raises(ConfigError, match=r"\{nmae\}"):
        render_edition(edition(entry("a")), {"a": item("a")}, bad)


def test_test_send_shows_a_banner_in_both_parts() -> None:
    e, items = fixture_edition()
    normal = render_edition(e, items, CONFIG)
    test = render_edition(e, items, CONFIG, test=True)
    for part in ("html", "text"):
        assert "Test send" not in getattr(normal, part)
    assert 'class="banner"' in test.html and "Test send" in test.html
    assert test.text.startswith("*** TEST SEND")


def test_preheader_is_the_editors_or_the_first_headlines() -> None:
    e = edition(entry("a", position=0), entry("b", position=1))
    items = {"a": item("a"), "b": item("b")}
    assert render_edition(e, items, CONFIG).preheader == "Title a · Title b"
    edited = render_edition(replace(e, preheader="Read this"), items, CONFIG)
    assert edited.preheader == "Read this"
    assert 'class="preheader"' in edited.html
    preheader = edited.html.split('class="preheader"')[1].split("</div>")[0]
    assert "Read this" in preheader and "display:none" in preheader and "mso-hide:all" in preheader
    # Hidden without the tricks spam filters score: no tiny type, no colour at all
    # (a colour like the background's is HTML_FONT_LOW_CONTRAST in SpamAssassin).
    style = preheader.split('style="')[1].split('"')[0]
    assert "font-size" not in style and "color" not in style and "line-height" not in style


# --- safety --------------------------------------------------------------------

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)" onclick="alert(1)">x</a>',
    '"><svg onload=alert(1)>',
    "</style><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert_html(html: str) -> None:
    parser = _Tags()
    parser.feed(html)
    allowed = {"http", "https", "mailto"}
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "svg", "object", "embed"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src") and value is not None:
                scheme = value.split(":", 1)[0].lower() if ":" in value else ""
                assert scheme in allowed or find_tokens(value) == [value.strip("-")[8:]], value


@pytest.mark.parametrize("payload", XSS)
@pytest.mark.parametrize("field", ["title", "lede", "author", "image_credit"])
def test_hostile_story_text_renders_inert_in_both_parts(field: str, payload: str) -> None:
    e = edition(entry("a"))
    rendered = render_edition(e, {"a": item("a", **{field: f"Before {payload} after"})}, CONFIG)
    assert_inert_html(rendered.html)
    for part in (rendered.html, rendered.text):
        lowered = part.lower()
        assert "<script" not in lowered and "javascript:" not in lowered
        assert "onerror" not in lowered and "onload" not in lowered
    # the text around it survives (the photo credit is in the HTML part only)
    assert "Before" in (rendered.html if field == "image_credit" else rendered.text)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "vbscript:x"]
)
def test_a_story_url_that_is_not_http_is_not_linked(url: str) -> None:
    e = edition(entry("a"))
    rendered = render_edition(e, {"a": item("a", url=url, canonical_url=url)}, CONFIG)
    assert_inert_html(rendered.html)
    assert "Title a" in rendered.html and "Keep reading" not in rendered.html
    assert url.strip().split(":")[0].lower() + ":" not in rendered.text.lower()


def test_hostile_intro_markdown_is_rendered_safely() -> None:
    intro = (
        "Hello <script>alert(1)</script> [bad](javascript:alert(1)) "
        "[data](data:text/html,x) ![img](https://rs.org/x.png) "
        "<img src=x onerror=alert(1)> [good](https://rs.org/ok) [mail](mailto:ed@rs.org)"
    )
    e = edition(entry("a"), intro=intro)
    rendered = render_edition(e, {"a": item("a")}, CONFIG)
    assert_inert_html(rendered.html)
    assert 'href="https://rs.org/ok"' in rendered.html
    assert 'href="mailto:ed@rs.org"' in rendered.html
    assert "https://rs.org/x.png" not in rendered.html  # images need sizes we cannot know
    assert "good [1]" in rendered.text and "[1] https://rs.org/ok" in rendered.text
    assert "<script" not in rendered.text and "onerror" not in rendered.text


@pytest.mark.parametrize("field", ["title", "lede", "author", "image_credit"])
def test_story_text_cannot_inject_a_substitution(field: str) -> None:
    sneaky = f"Win {token('unsubscribe_url')} {token('email')} -roundup.other-"
    e = edition(entry("a"), intro=f"Intro {token('email')}", subject=f"S {token('email')}")
    rendered = render_edition(e, {"a": item("a", **{field: sneaky})}, CONFIG)
    # only the template's own tokens: one of each per part
    assert sorted(find_tokens(rendered.html)) == sorted(SUBSTITUTIONS)
    assert sorted(find_tokens(rendered.text)) == sorted(SUBSTITUTIONS)
    assert find_tokens(rendered.subject) == []
    filled = fill(rendered.html, {"unsubscribe_url": "U", "preferences_url": "P", "email": "E"})
    assert "Win \u2010roundup.unsubscribe_url-" in filled  # shown, looks the same, not filled


# --- tokens ----------------------------------------------------------------------


def test_token_form_survives_escaping() -> None:
    from urllib.parse import quote

    for name in SUBSTITUTIONS:
        t = token(name)
        assert quote(t, safe="") == t
        assert __import__("html").escape(t) == t
    with pytest.raises(ValueError):
        token("nope")


def test_fill() -> None:
    e, items = fixture_edition()
    rendered = render_edition(e, items, CONFIG)
    values = {
        "unsubscribe_url": "https://n.rs.org/u/abc?x=1&y=2",
        "preferences_url": "https://n.rs.org/p/abc",
        "email": "a&b@example.org",
    }
    html = fill(rendered.html, values, html_escape=True)
    text = fill(rendered.text, values)
    assert find_tokens(html) == [] and find_tokens(text) == []
    assert 'href="https://n.rs.org/u/abc?x=1&amp;y=2"' in html
    assert "a&amp;b@example.org" in html
    assert "https://n.rs.org/u/abc?x=1&y=2" in text and "a&b@example.org" in text


def test_fill_does_not_expand_a_value_that_looks_like_a_token() -> None:
    text = f"{token('email')} {token('unsubscribe_url')}"
    values = {"email": token("unsubscribe_url"), "unsubscribe_url": "U"}
    assert fill(text, values) == f"{token('unsubscribe_url')} U"


def test_fill_refuses_missing_and_unknown_values() -> None:
    with pytest.raises(SendError, match="unsubscribe_url"):
        fill(f"x {token('unsubscribe_url')}", {"email": "e"})
    with pytest.raises(ValueError, match="nmae"):
        fill("x", {"nmae": "n"})


def test_one_render_serves_every_recipient() -> None:
    e, items = fixture_edition()
    rendered = render_edition(e, items, CONFIG)
    for name in SUBSTITUTIONS:
        assert token(name) in rendered.html and token(name) in rendered.text
    one = {"unsubscribe_url": "#U1#", "preferences_url": "#P1#", "email": "#E1#"}
    two = {"unsubscribe_url": "#U2#", "preferences_url": "#P2#", "email": "#E2#"}
    a, b = fill(rendered.html, one), fill(rendered.html, two)
    assert a != b
    assert a.replace("1#", "2#") == b


# --- size and text -------------------------------------------------------------------


def test_a_full_edition_stays_under_gmails_clip() -> None:
    e, items = full_edition(stories=25, lede_chars=5000)
    rendered = render_edition(e, items, CONFIG)
    assert rendered.story_count == 25
    assert len(rendered.html.encode("utf-8")) < GMAIL_CLIP
    # even filled with long per-recipient values
    filled = fill(rendered.html, {n: "x" * 200 for n in SUBSTITUTIONS}, html_escape=True)
    assert len(filled.encode("utf-8")) < GMAIL_CLIP


SIZE_BUDGET = 80 * 1024  # bytes: a full week stays well clear of Gmail's clip


def test_a_25_story_edition_of_long_ledes_stays_under_80_kb() -> None:
    e, items = full_edition(stories=25, lede_chars=5000)
    rendered = render_edition(e, items, CONFIG)
    sections = edition_sections(e, items, CONFIG)
    ledes = [story.lede for section in sections for story in section.stories]
    assert len(ledes) == 25 and all(len(lede) > 560 for lede in ledes)  # cut at 600, a word
    assert all(lede in rendered.html for lede in ledes)
    size = len(rendered.html.encode("utf-8"))
    assert size < SIZE_BUDGET, f"{size} bytes"
    # the per-recipient links filled in take the same room in every client
    filled = fill(rendered.html, {n: "x" * 120 for n in SUBSTITUTIONS}, html_escape=True)
    assert len(filled.encode("utf-8")) < SIZE_BUDGET


def test_no_wrapper_table_per_story_and_no_unused_class_names() -> None:
    e, items = full_edition(stories=25)
    html = render_edition(e, items, CONFIG).html
    sections = len(edition_sections(e, items, CONFIG))
    # page, container, card, logo plate, one per section, closing box: never per story
    assert html.count("<table") == 5 + sections + 1
    kept_css = html.split("<style>")[1].split("</style>")[0]
    hooks = {"preheader", "banner", "plate", "photo", "lede"}
    for names in re.findall(r' class="([^"]*)"', html):
        for name in names.split():
            assert f".{name}" in kept_css or name in hooks, name


def test_the_style_attributes_carry_the_look_and_the_head_keeps_the_rest() -> None:
    e, items = fixture_edition()
    html = render_edition(e, items, CONFIG).html
    head, body = html.split("</head>")
    assert "border-collapse" not in body and "border-collapse" in head
    assert "@media (prefers-color-scheme:dark)" in head and "max-width:599px" in head
    lede = re.search(r'<p class="lede t" style="([^"]*)"', body)
    assert lede is not None
    font = "font:16px/26px Helvetica,Arial,sans-serif"
    assert lede.group(1) == f"margin:0 0 16px;{font};color:#1a1a1a"


def _long_lines(text: str) -> list[str]:
    # A line may pass 72 columns only when it is one unbreakable word, a URL.
    return [
        line
        for line in text.splitlines()
        if len(line) > 72 and not re.fullmatch(r"(\[\d+\] )?\S+", line)
    ]


@pytest.mark.parametrize("which", ["fixture", "full"])
def test_text_part_is_wrapped_at_72(which: str) -> None:
    e, items = fixture_edition() if which == "fixture" else full_edition()
    text = render_edition(e, items, CONFIG).text
    assert _long_lines(text) == []
    assert max(len(line) for line in text.splitlines()) > 60  # and it is not cut short


@pytest.mark.parametrize("indent", ["", "- ", "12. "])
@pytest.mark.parametrize("width", [72, 20, 8])
def test_wrap_matches_textwrap(indent: str, width: int) -> None:
    words = ["a", "to", "the", "seven", "x" * 7, "y" * 8, "z" * 9, "u" * 40, "v" * 90]
    rng = random.Random(width * 10 + len(indent))
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        for variant in (text, f" {text}", text.replace(" ", "  ", 2), text.replace(" ", "\n", 1)):
            expected = textwrap.fill(
                variant,
                width=width,
                initial_indent=indent,
                subsequent_indent=" " * len(indent),
                break_long_words=False,
                break_on_hyphens=False,
            )
            assert wrap(variant, indent=indent, width=width) == expected


def test_text_part_reads_as_text() -> None:
    e, items = fixture_edition()
    text = render_edition(e, items, CONFIG).text
    assert "Middle East\n-----------\n" in text
    assert "Weekly Round-Up\n===============\nNovember 27, 2026\n" in text
    story = (
        "Idlib exposes limits of Russia and Turkey’s strategic partnership [3]\n"
        "By Giorgio Cafiero\n"
        "The battle for Idlib underscores"
    )
    assert story in text
    links = text.split("\nLinks:\n")[1]
    assert links.startswith("[1] https://responsiblestatecraft.org/ukraine-reading-list/\n")
    assert "[3] https://responsiblestatecraft.org/idlib-russia-turkey/?utm_source=" in links
    assert "<" not in text.replace("<3", "")
    assert "An excluded story" not in text


# --- content hash --------------------------------------------------------------------


def _variant(change: str) -> tuple[Edition, dict[str, StoredItem], Config]:
    e, items = fixture_edition()
    config = CONFIG
    first = e.entries[0]
    key = first.item_key

    def with_item(**fields: Any) -> dict[str, StoredItem]:
        s = items[key]
        return items | {key: replace(s, item=replace(s.item, **fields))}

    def with_entry(index: int, **fields: Any) -> Edition:
        entries = list(e.entries)
        entries[index] = replace(entries[index], **fields)
        return replace(e, entries=tuple(entries))

    match change:
        case "nothing":
            pass
        case "headline override":
            e = with_entry(0, headline="New headline")
        case "lede override":
            e = with_entry(0, lede="New lede")
        case "item title":
            items = with_item(title="Another title")
        case "item lede":
            items = with_item(lede="Another lede")
        case "author":
            items = with_item(author="Someone Else")
        case "image":
            items = with_item(image_url="https://rs.org/other.jpg")
        case "credit":
            items = with_item(image_credit="Other credit")
        case "url":
            items = with_item(canonical_url="https://rs.org/moved/")
        case "kind tag":
            items = with_item(tags=("Opinion",))
        case "order":
            e = with_entry(0, position=9)
        case "moved region":
            e = with_entry(0, region="Europe")
        case "excluded":
            e = with_entry(0, excluded=True)
        case "intro":
            e = replace(e, intro=e.intro + " More.")
        case "subject":
            e = replace(e, subject="A subject")
        case "preheader":
            e = replace(e, preheader="A preheader")
        case "date":
            e = replace(e, window_end=datetime(2026, 12, 4, 12, tzinfo=UTC))
        case "pitch":
            nl = config.newsletter.model_copy(update={"pitch": "Read us."})
            config = config.model_copy(update={"newsletter": nl})
        # changes that the email does not show
        case "item content":
            items = with_item(content="<p>Full text</p>")
        case "item published":
            items = with_item(published=datetime(2020, 1, 1, tzinfo=UTC))
        case "stored region":
            items = items | {key: replace(items[key], region="Europe")}
        case "excluded entry text":
            e = with_entry(5, headline="Still excluded")
        case "pinned flag":
            e = with_entry(0, pinned=False)
        case "state and approval":
            e = replace(e, state=EditionState.APPROVED, approved_by="ed", approved_hash="x")
        case "timestamps":
            e = replace(e, updated_at=datetime(2026, 11, 26, tzinfo=UTC))
        case "brand colour":
            brand = config.newsletter.brand.model_copy(update={"accent_color": "#000000"})
            nl = config.newsletter.model_copy(update={"brand": brand})
            config = config.model_copy(update={"newsletter": nl})
        case _:
            raise AssertionError(change)
    return e, items, config


SHOWN = [
    "headline override", "lede override", "item title", "item lede", "author", "image",
    "credit", "url", "kind tag", "order", "moved region", "excluded", "intro", "subject",
    "preheader", "date", "pitch",
]  # fmt: skip
NOT_SHOWN = [
    "nothing", "item content", "item published", "stored region", "excluded entry text",
    "pinned flag", "state and approval", "timestamps", "brand colour",
]  # fmt: skip


@pytest.mark.parametrize("change", SHOWN + NOT_SHOWN)
def test_content_hash_changes_exactly_when_the_content_does(change: str) -> None:
    base = content_hash(*_variant("nothing"))
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    changed = content_hash(*_variant(change))
    assert (changed != base) == (change in SHOWN)


def test_the_email_changes_for_every_change_the_hash_sees() -> None:
    # The hash claims to cover what is rendered: each of those changes shows up
    # in the HTML or the text, so an approval never covers an unseen edit.
    base = render_edition(*_variant("nothing"))
    for change in SHOWN:
        rendered = render_edition(*_variant(change))
        assert (rendered.html, rendered.text, rendered.subject) != (
            base.html,
            base.text,
            base.subject,
        ), change


# --- templates and helpers --------------------------------------------------------------


def test_templates_dir_is_beside_the_package_and_can_be_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (templates_dir() / "email" / "roundup.html").is_file()
    custom = tmp_path / "templates"
    shutil.copytree(templates_dir() / "email", custom / "email")
    layout = custom / "email" / "base.txt"
    layout.write_text(layout.read_text().replace("View this email", "Read this email"))
    monkeypatch.setenv("ROUNDUP_TEMPLATES", str(custom))
    e, items = fixture_edition()
    assert render_edition(e, items, CONFIG).text.startswith("Read this email")
    monkeypatch.setenv("ROUNDUP_TEMPLATES", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="ROUNDUP_TEMPLATES"):
        render_edition(e, items, CONFIG)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain", 10, "plain"),
        ("  spaced \n\t out  ", 20, "spaced out"),
        ("a <b>bold</b> move", 20, "a bold move"),
        ("AT&amp;T &lt;3", 20, "AT&T <3"),
        ("x<script>alert(1)</script>y", 20, "xy"),
        ("bell\x07 and\u2028line", 20, "bell and line"),
        ("one two three four five six", 16, "one two three…"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
        (None, 10, ""),
        ("-roundup.email-", 40, "\u2010roundup.email-"),
    ],
)
def test_plain(text: str | None, limit: int, expected: str) -> None:
    assert plain(text, limit) == expected


def test_plain_bounds_work_on_huge_input() -> None:
    assert len(plain("<p>" + "x " * 5_000_000 + "</p>", 100)) <= 100
    assert truncate("short", 10) == "short"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("*hi*", "<p><em>hi</em></p>"),
        ("[a](https://x.org)", '<p><a href="https://x.org">a</a></p>'),
        ("[a](javascript:alert(1))", "<p>[a](javascript:alert(1))</p>"),
        ("<b>raw</b>", "<p>&lt;b&gt;raw&lt;/b&gt;</p>"),
        ("# Head", "Head"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("", ""),
    ],
)
def test_intro_html(markdown: str, expected: str) -> None:
    assert intro_html(markdown) == expected


@pytest.mark.parametrize(
    "text",
    ["", "plain", "<-roundup.unsubscribe_url->", "a -roundup.email- b -roundup.email- c"],
)
def test_a_filler_fills_as_fill_does(text: str) -> None:
    values = {"unsubscribe_url": "https://x/u/1", "preferences_url": "P", "email": "a@b"}
    assert Filler(text).fill(values) == fill(text, values)
    if find_tokens(text):
        with pytest.raises(SendError, match="needs a value"):
            Filler(text).fill({})
    with pytest.raises(ValueError, match="unknown substitution"):
        Filler(text).fill({"nope": "x"})
