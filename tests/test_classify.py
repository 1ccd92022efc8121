"""Region classification: every rule kind, precedence, exclusions, the fallback,
explanations. Tables of cases against a small config written here."""

from __future__ import annotations

from typing import Any

import pytest

from bot.classify import Classifier, format_explanation
from bot.config import Config
from bot.types import Classification, Item, RuleMatch

ME, AP, EU, FB = "Middle East", "Asia-Pacific", "Europe", "More from the site"

REGIONS: list[dict[str, Any]] = [
    {
        "name": ME,
        "aliases": ["MENA"],
        "rules": [
            {"tags": ["Israel", "Türkiye"]},
            {"urls": ["/middle-east/", "/world/*/mideast/"]},
            {"keywords": ["Iran", "Oman", "Syria*", "Erdoğan", "Türkiye", "إيران"]},
            {"keywords": ["Turkey"], "not": ["Thanksgiving"]},
        ],
    },
    {
        "name": AP,
        "aliases": ["Indo-Pacific"],
        "rules": [
            {"tags": ["China"]},
            {"urls": ["/asia/"]},
            {"keywords": ["India", "Kim Jong Un", "中国", "日本", "New York City"]},
            {"keywords": ["Xi"], "fields": ["title"]},
        ],
    },
    {
        "name": EU,
        "rules": [
            {"tags": ["NATO"]},
            {"urls": ["/europe/"]},
            {"keywords": ["Europe*"], "not": ["European Central Bank"]},
            {"keywords": ["Kyiv", "Orbán", "Łódź"]},
            {"keywords": ["New York"], "not": ["New York City"]},
        ],
    },
]


def make_config(regions: list[dict[str, Any]] | None = None, **extra: Any) -> Config:
    data: dict[str, Any] = {
        "newsletter": {
            "publication": "Test Statecraft",
            "site_url": "https://example.org",
            "sender": {"email": "news@example.org"},
            "postal_address": "1 Example Road",
        },
        "feeds": [
            {"name": "site", "url": "https://example.org/feed"},
            {"name": "asia-desk", "url": "https://example.org/asia.rss", "region": AP},
        ],
        "regions": REGIONS if regions is None else regions,
        **extra,
    }
    return Config.model_validate(data)


CLASSIFIER = Classifier.from_config(make_config())


def item(
    title: str = "",
    lede: str = "",
    tags: tuple[str, ...] = (),
    url: str = "https://example.org/2025/11/story/",
    feed: str = "site",
) -> Item:
    return Item(key="k1", feed=feed, url=url, canonical_url=url, title=title, lede=lede, tags=tags)


@pytest.mark.parametrize(
    ("title", "region", "matched"),
    [
        ("Iran talks resume", ME, "Iran"),
        ("IRAN TALKS RESUME", ME, "IRAN"),
        ("Tirana hosts a summit", FB, None),
        ("Iran's nuclear programme", ME, "Iran"),
        ("Iran’s nuclear programme", ME, "Iran"),
        ("Iranʼs nuclear programme", ME, "Iran"),
        ("An anti-Iran coalition forms", ME, "Iran"),
        ("Iranian drones", FB, None),  # "Iran" is not a stem
        ("Iran2025 conference", FB, None),
        ("Oman mediates", ME, "Oman"),
        ("A woman mediates", FB, None),
        ("India votes", AP, "India"),
        ("Indiana votes", FB, None),
        ("Syria", ME, "Syria"),
        ("Syrians return home", ME, "Syrians"),
        ("Kim Jong Un fires a missile", AP, "Kim Jong Un"),
        ("Kim Jong-un fires a missile", AP, "Kim Jong-un"),
        ("Kim  Jong–Un fires a missile", AP, "Kim  Jong–Un"),
        ("KimJong Un", FB, None),
        ("中国政府发表声明", AP, "中国"),
        ("日本の首相が訪問", AP, "日本"),
        ("Iranの核開発", ME, "Iran"),
        ("Turkiye and Greece talk", ME, "Turkiye"),
        ("TÜRKİYE and Greece talk", ME, "TÜRKİYE"),
        ("Erdogan visits Berlin", ME, "Erdogan"),
        ("Erdoğan visits Berlin", ME, "Erdoğan"),
        ("Erdog\u0306an visits Berlin", ME, "Erdog\u0306an"),
        ("Orban vetoes aid", EU, "Orban"),
        ("ORBÁN vetoes aid", EU, "ORBÁN"),
        ("Lodz and Kraków", EU, "Lodz"),
        ("Kyiv under fire", EU, "Kyiv"),
        ("Kyiv\u0301 under fire", EU, "Kyiv\u0301"),  # a stray accent stays with its word
        ("Europeans push back", EU, "Europeans"),
        ("Europe’s choice", EU, "Europe"),
        ("قالت إيران اليوم", ME, "إيران"),
        ("", FB, None),
    ],
)
def test_keywords_match_whole_words_ignoring_case_and_accents(
    title: str, region: str, matched: str | None
) -> None:
    c = CLASSIFIER.classify(item(title=title))
    assert c.region == region
    if matched is None:
        assert c.rule is None
    else:
        assert c.rule is not None
        assert (c.rule.kind, c.rule.field, c.rule.matched) == ("keyword", "title", matched)


@pytest.mark.parametrize(
    ("title", "lede", "region"),
    [
        ("", "Talks with Iran resume.", ME),  # keywords read the lede too
        ("", "Xi said so.", FB),  # this rule reads the title only
        ("Xi said so", "", AP),
        ("European Central Bank raises rates", "", FB),
        ("European leaders meet", "", EU),
        # `not` cancels the whole rule for the item, wherever it is in the rule's fields
        ("European leaders meet", "The European Central Bank is worried.", FB),
        ("Turkey prices soar before Thanksgiving", "", FB),
        ("Turkey shells Kurdish positions", "", ME),
        # the longer phrase is excluded, the shorter "New York" rule is cancelled...
        ("New York City mayor", "", AP),
        ("New York state budget", "", EU),
    ],
)
def test_fields_and_exclusions(title: str, lede: str, region: str) -> None:
    assert CLASSIFIER.classify(item(title=title, lede=lede)).region == region


@pytest.mark.parametrize(
    ("tags", "region", "pattern"),
    [
        (("Israel",), ME, "Israel"),
        (("  israel ",), ME, "Israel"),
        (("TÜRKIYE",), ME, "Türkiye"),
        (("Turkiye",), ME, "Türkiye"),
        (("Middle East",), ME, ME),  # a region's name is a tag rule out of the box
        (("Analysis | Middle East",), ME, ME),  # the site's kicker
        (("middle-east",), ME, ME),
        (("MENA",), ME, "MENA"),  # an alias too
        (("Indo-Pacific",), AP, "Indo-Pacific"),
        (("indo pacific",), AP, "Indo-Pacific"),
        (("Beijing (China)",), AP, "China"),  # a qualified place
        (("Analysis",), FB, None),
        (("Middle Eastern food",), FB, None),  # tags are exact, not substrings
        (("Israel Folk Dance",), FB, None),
        (("",), FB, None),
    ],
)
def test_tags_are_exact_and_read_the_sites_labels(
    tags: tuple[str, ...], region: str, pattern: str | None
) -> None:
    c = CLASSIFIER.classify(item(tags=tags))
    assert c.region == region
    if pattern is None:
        assert c.rule is None
    else:
        assert c.rule == RuleMatch("tag", region, pattern, "tags", tags[0])


@pytest.mark.parametrize(
    ("url", "region", "matched"),
    [
        ("https://example.org/world/middle-east/story-1/", ME, "/middle-east/"),
        ("https://example.org/World/Middle-East/Story-1", ME, "/Middle-East/"),
        ("https://example.org/world/middle-east", ME, "/middle-east/"),
        ("https://example.org/world/2025/mideast/story", ME, "/world/2025/mideast/"),
        ("https://example.org/world/2025/11/mideast/story", FB, None),  # * stays in a segment
        ("https://example.org/europe-travel/paris", FB, None),
        ("https://example.org/news?section=/europe/", FB, None),  # the path, not the query
        ("https://example.org/%45urope/x", EU, "/Europe/"),
        ("https://example.org/asia/x", AP, "/asia/"),
        ("not a url at all", FB, None),
        ("http://[::1/europe/", FB, None),
        ("", FB, None),
    ],
)
def test_url_rules_match_path_fragments(url: str, region: str, matched: str | None) -> None:
    c = CLASSIFIER.classify(item(url=url))
    assert c.region == region
    assert (c.rule.matched if c.rule else None) == matched
    if c.rule:
        assert (c.rule.kind, c.rule.field) == ("url", "url")


def test_feed_default_region_is_the_weakest_rule() -> None:
    c = CLASSIFIER.classify(item(feed="asia-desk"))
    assert c == Classification(AP, RuleMatch("feed", AP, "asia-desk", "feed", "asia-desk"), ())
    c = CLASSIFIER.classify(item(feed="asia-desk", title="Iran talks"))
    assert (c.region, c.candidates) == (ME, (AP,))


MIXED = item(
    title="Iran and India",  # keywords: Middle East (first in the title) and Asia-Pacific
    tags=("NATO",),  # tag: Europe
    url="https://example.org/asia/story",  # url: Asia-Pacific
)


@pytest.mark.parametrize(
    ("precedence", "region", "candidates"),
    [
        (None, EU, (AP, ME)),  # default: tag > url > keyword > feed
        # among keyword matches the evidence decides, and Asia-Pacific's url counts too
        (["keyword", "url", "tag", "feed"], AP, (ME, EU)),
        (["url", "tag", "keyword", "feed"], AP, (EU, ME)),
        (["feed", "keyword", "tag", "url"], AP, (ME, EU)),
    ],
)
def test_precedence_default_and_custom(
    precedence: list[str] | None, region: str, candidates: tuple[str, ...]
) -> None:
    extra = {"classify": {"precedence": precedence}} if precedence else {}
    classifier = Classifier.from_config(make_config(**extra))
    c = classifier.classify(MIXED)
    assert (c.region, c.candidates) == (region, candidates)


@pytest.mark.parametrize(
    ("title", "lede", "region", "candidates", "uncertain"),
    [
        # the place in the title: what a headline names first weighs more
        ("India and Iran", "In Kyiv", AP, (ME, EU), False),
        ("Iran and India", "In Kyiv", ME, (AP, EU), False),
        # near: Iran at the end of the title against India in the lede and title
        ("Talks in Geneva on Iran and India", "", ME, (AP,), True),
        # the title above the lede
        ("Iran talks", "India and Kyiv", ME, (AP, EU), False),
        # distinct terms: two of Europe's in the lede beat one of Asia's
        ("", "India said Kyiv and Orbán agreed", EU, (AP,), False),
        # an exact tie: the first region listed, flagged for an editor
        ("", "Iran, India", ME, (AP,), True),
        # a repeat of the same term adds little
        ("", "India, India, India and Kyiv, Orbán", EU, (AP,), False),
    ],
)
def test_within_a_kind_the_evidence_decides(
    title: str, lede: str, region: str, candidates: tuple[str, ...], uncertain: bool
) -> None:
    c = CLASSIFIER.classify(item(title=title, lede=lede))
    assert (c.region, c.candidates, c.uncertain) == (region, candidates, uncertain)


def test_an_exact_tie_goes_to_the_region_listed_first() -> None:
    reordered = Classifier.from_config(make_config([REGIONS[2], REGIONS[1], REGIONS[0]]))
    c = reordered.classify(item(lede="Iran and Kyiv"))
    assert (c.region, c.candidates, c.uncertain) == (EU, (ME,), True)
    c = CLASSIFIER.classify(item(lede="Iran and Kyiv"))
    assert (c.region, c.candidates, c.uncertain) == (ME, (EU,), True)


def test_nothing_matches_goes_to_the_fallback_never_dropped() -> None:
    c = CLASSIFIER.classify(item(title="Rolling Stones tour", lede="A new album"))
    assert c == Classification(FB, None, ())
    named = Classifier.from_config(make_config(fallback={"name": "Elsewhere"}))
    assert named.classify(item(title="Rolling Stones")).region == "Elsewhere"
    assert named.regions == (ME, AP, EU, "Elsewhere")


def test_regions_lists_the_sections_in_order_then_the_fallback() -> None:
    assert CLASSIFIER.regions == (ME, AP, EU, FB)


def test_explain_gives_the_decision_and_every_match_best_first() -> None:
    it = item(title="India and Iran", lede="Europe’s answer", tags=("NATO",))
    e = CLASSIFIER.explain(it)
    assert e.classification == CLASSIFIER.classify(it)
    assert e.matches[0] == e.classification.rule == RuleMatch("tag", EU, "NATO", "tags", "NATO")
    assert [(m.region, m.kind, m.pattern, m.field) for m in e.matches] == [
        (EU, "tag", "NATO", "tags"),
        (AP, "keyword", "India", "title"),
        (ME, "keyword", "Iran", "title"),
        (EU, "keyword", "Europe*", "lede"),
    ]
    assert [h.source for h in e.hits] == [
        "regions[2].rules[0]",
        "regions[1].rules[2]",
        "regions[0].rules[2]",
        "regions[2].rules[2]",
    ]
    assert e.cancelled == ()


def test_explain_shows_what_a_not_phrase_cancelled() -> None:
    e = CLASSIFIER.explain(item(title="European Central Bank holds rates"))
    assert e.classification == Classification(FB, None, ())
    assert e.matches == ()
    (hit,) = e.cancelled
    assert hit.match == RuleMatch("keyword", EU, "Europe*", "title", "European")
    assert hit.cancelled_by == '"European Central Bank" in title'


def test_format_explanation_reads_as_the_cli_prints_it() -> None:
    it = item(title="Iran’s answer to India", tags=("Analysis",))
    text = format_explanation(it, CLASSIFIER.explain(it))
    assert text.splitlines()[:6] == [
        "item:       k1",
        'title:      "Iran’s answer to India"',
        "feed:       site",
        "region:     Middle East",
        'decided by: keyword rule "Iran" (regions[0].rules[2]) in the title: "Iran"',
        "also:       Asia-Pacific",
    ]
    assert text.splitlines()[6:] == [
        "precedence: tag > url > keyword > feed, then the evidence"
        " (a tie: the first region listed)",
        "scores:",
        '  Middle East     3.00  keyword  "Iran" 3.00',
        '  Asia-Pacific    2.23  keyword  "India" 2.23',
        "matches, best first:",
        '  Middle East: keyword rule "Iran" (regions[0].rules[2]) in the title: "Iran"'
        " (weight 3.00)",
        '  Asia-Pacific: keyword rule "India" (regions[1].rules[2]) in the title: "India"'
        " (weight 2.23)",
    ]


def test_format_explanation_of_the_fallback_and_of_hostile_text() -> None:
    it = item(title="Bell\x07 \u202eevil\u202c \ud800 rings\nagain" + "x" * 300)
    text = format_explanation(it, CLASSIFIER.explain(it))
    assert "decided by: no rule matched; the item goes to the fallback section" in text
    title_line = text.splitlines()[1]
    for bad in ("\x07", "\u202e", "\ud800", "\n"):
        assert bad not in title_line
    assert title_line.endswith("…")
    cancelled = item(title="European Central Bank")
    text = format_explanation(cancelled, CLASSIFIER.explain(cancelled))
    assert text.splitlines()[-1] == (
        '  Europe: keyword rule "Europe*" (regions[2].rules[2]) in the title: "European"; '
        'not: "European Central Bank" in title'
    )


def test_a_shorter_phrase_at_the_same_place_counts_when_the_longer_ones_rule_is_cancelled() -> None:
    # One region, one alternation regex: at "Gaza Strip" the regex reports the
    # longer phrase, whose rule the `not` cancels; "Gaza" matched there too.
    regions = [
        {
            "name": ME,
            "rules": [{"keywords": ["Gaza Strip"], "not": ["tunnel"]}, {"keywords": ["Gaza"]}],
        },
        {"name": EU, "rules": [{"keywords": ["Brussels"]}]},
    ]
    classifier = Classifier.from_config(make_config(regions))
    e = classifier.explain(item(title="Gaza Strip tunnel found"))
    assert e.classification.rule == RuleMatch("keyword", ME, "Gaza", "title", "Gaza")
    assert [h.match.pattern for h in e.cancelled] == ["Gaza Strip"]
    c = classifier.classify(item(title="Gaza Strip talks"))
    assert c.rule == RuleMatch("keyword", ME, "Gaza Strip", "title", "Gaza Strip")


def test_every_keyword_and_url_pattern_is_found_even_inside_or_next_to_another() -> None:
    regions = [
        {
            "name": ME,
            "rules": [
                {"keywords": ["Kim Jong Un"], "not": ["parade"]},
                {"keywords": ["Jong Un"]},
                {"urls": ["/asia/"], "not": ["/sport/"]},
                {"urls": ["/europe/"]},
            ],
        },
    ]
    classifier = Classifier.from_config(make_config(regions))
    c = classifier.classify(item(title="Kim Jong Un parade"))
    assert c.rule == RuleMatch("keyword", ME, "Jong Un", "title", "Jong Un")
    c = classifier.classify(item(url="https://example.org/sport/asia/europe/x"))
    assert c.rule == RuleMatch("url", ME, "/europe/", "url", "/europe/")
