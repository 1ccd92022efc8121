"""Property tests: whatever an item holds, classification never raises and always
returns a configured region or the fallback, the same way every time."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.classify import Classifier, format_explanation, plan_reclassify
from bot.classify.report import safe
from bot.classify.scoring import is_venue
from bot.classify.text import MAX_TEXT_CHARS
from bot.config import load_config
from bot.types import Item, StoredItem

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = Classifier.from_config(load_config(ROOT / "config" / "feeds.yaml"))

# Every code point, lone surrogates included, mixed with pieces that exercise the
# rules: names with accents and apostrophes, CJK, RTL text and controls, emoji,
# the kicker's "|", qualified places, url-ish punctuation.
ANY_CHAR = st.characters(exclude_categories=())
PIECES = st.sampled_from(
    [
        "Iran",
        "’s",
        "'s",
        "-",
        "–",
        " ",
        "Türkiye",
        "TÜRKİYE",
        "Erdog\u0306an",
        "Tirana",
        "Kim Jong",
        "中国",
        "日本の",
        "إيران",
        "\u202e",
        "\u200f",
        "\x00",
        "\ud800",
        "🇮🇷",
        "👩🏽‍💻",
        "|",
        "(China)",
        "/middle-east/",
        "%2F",
        "*",
        "European Central Bank",
        "Thanksgiving",
        "\n",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(ANY_CHAR, max_size=8)), max_size=12).map("".join)
URLS = st.one_of(
    TEXT,
    st.builds(lambda p: f"https://example.org/{p}", TEXT),
    st.sampled_from(["", "http://[::1", "https://x.org/%ZZ/europe/", "javascript:alert(1)"]),
)
ITEMS = st.builds(
    Item,
    key=TEXT,
    feed=st.one_of(st.just("responsible-statecraft"), TEXT),
    url=URLS,
    canonical_url=URLS,
    title=TEXT,
    lede=TEXT,
    tags=st.lists(TEXT, max_size=6).map(tuple),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ITEMS)
def test_classify_never_raises_and_returns_a_section(item: Item) -> None:
    c = CLASSIFIER.classify(item)
    assert c.region in CLASSIFIER.regions
    assert len(set(c.candidates)) == len(c.candidates)
    assert c.region not in c.candidates
    assert set(c.candidates) <= set(CLASSIFIER.regions[:-1])
    if c.rule is None:
        assert (c.region, c.candidates) == (CLASSIFIER.regions[-1], ())
    else:
        assert c.rule.region == c.region
        if c.rule.field in ("title", "lede"):
            assert c.rule.matched in getattr(item, c.rule.field)[:MAX_TEXT_CHARS]
        if c.rule.field == "tags":
            assert c.rule.matched in item.tags
    assert CLASSIFIER.classify(item) == c  # a pure function of the item


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ITEMS)
def test_explain_agrees_with_classify_and_prints_safely(item: Item) -> None:
    explanation = CLASSIFIER.explain(item)
    assert explanation.classification == CLASSIFIER.classify(item)
    if explanation.classification.rule is not None:
        assert explanation.matches[0] == explanation.classification.rule
    text = format_explanation(item, explanation)
    for line in text.splitlines():
        assert line == safe(line, len(line))  # nothing left to clean
    assert "\ud800" not in text and "\u202e" not in text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(ITEMS, st.sampled_from(CLASSIFIER.regions), st.booleans()), max_size=5))
def test_plan_never_moves_an_editors_item(rows: list[tuple[Item, str, bool]]) -> None:
    stored = [
        StoredItem(replace(i, key=str(n)), region, region_manual=manual)
        for n, (i, region, manual) in enumerate(rows)
    ]
    moves = plan_reclassify(stored, CLASSIFIER)
    manual = {s.key for s in stored if s.region_manual}
    assert not manual & {m.key for m in moves}
    for m in moves:
        assert m.new == CLASSIFIER.classify(stored[int(m.key)].item).region != m.old


def test_huge_fields_are_bounded_not_refused() -> None:
    huge = ("Titanic " * 200_000) + "Iran"  # the match is past the cap: not read
    c = CLASSIFIER.classify(
        Item(
            key="k",
            feed="x",
            url="https://example.org/" + "a/" * 100_000 + "middle-east/",
            canonical_url="",
            title=huge,
            lede="é" * 1_000_000,
            tags=(*(f"tag {n}" for n in range(100_000)), "Middle East"),
        )
    )
    assert c.region == CLASSIFIER.regions[-1]
    assert c.rule is None


# The venue rule as the README states it, written forwards (`is_venue` matches
# the words before a place backwards, for speed): it must find the same venues.
MEETING = (
    r"talks?|summit|summits|conference|meeting|meetings|meet|meets|met|forum|negotiations"
    r"|gathering|pact|accord|treaty|deal|expo|visit|visits|visiting|trip|session|round"
)
VENUE_BEFORE = re.compile(
    rf"(?:\b(?:{MEETING})\b[^.;:!?|]{{0,30}}?\b(?:in|at|to)|\bhosted\s+(?:by|in))\s+(?:the\s+)?$"
)
AT_BEFORE = re.compile(r"\b(?:at|in)\s+(?:the\s+)?$")
VENUE_AFTER = re.compile(r"[\s-]+(?:talks|summit|conference|meeting|forum|negotiations)\b")
VENUE_WORDS = st.one_of(
    st.sampled_from(
        [
            *MEETING.replace("?", "").split("|"),
            *("hosted", "by", "in", "at", "to", "the", "the", "in"),
            *("a", "é", "x" * 40, "中", "_", "intalks", "tothe"),
        ]
    ),
    st.text(max_size=3),
)
SEPARATORS = st.sampled_from([" ", " ", "  ", "\n", "\t", "-", ", ", ". ", "|", ""])
VENUE_TEXT = st.lists(st.tuples(VENUE_WORDS, SEPARATORS), max_size=8).map(
    lambda pairs: "".join(word + gap for word, gap in pairs)
)
# how the words before a place end: most venues end so (and many parties too)
VENUE_ENDS = st.sampled_from([" in ", " at ", " to ", " by ", " in the ", "at the  ", "\tin\n", ""])


@settings(max_examples=1500, deadline=None)
@given(VENUE_TEXT, VENUE_ENDS, VENUE_TEXT)
def test_venues_are_read_as_the_rule_is_written(words: str, ending: str, after: str) -> None:
    before = words + ending
    text = f"{before}gaza{after}"
    start, end = len(before), len(before) + 4
    near = text[max(0, start - 60) : start]
    written = bool(
        VENUE_BEFORE.search(near) or (AT_BEFORE.search(near) and VENUE_AFTER.match(text, end))
    )
    assert is_venue(text, start, end) == written
