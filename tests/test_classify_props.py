"""Property tests: whatever an item holds, classification never raises and always
returns a configured region or the fallback, the same way every time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.classify import Classifier, format_explanation, plan_reclassify
from bot.classify.report import safe
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
