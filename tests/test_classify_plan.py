"""Re-classification plans: what would move, editors' placements kept, the
dry-run text; and a plan made from items read back from a real store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.classify import Classifier, Move, format_plan, plan_reclassify
from bot.config import Config
from bot.store import Store
from bot.types import Classification, Item, RuleMatch, StoredItem

ME, AP, EU, FB = "Middle East", "Asia-Pacific", "Europe", "More from the site"


def config(with_rules: bool = True) -> Config:
    def rules(*keywords: str) -> list[dict[str, Any]]:
        return [{"keywords": list(keywords)}] if with_rules else []

    return Config.model_validate(
        {
            "newsletter": {
                "publication": "Test",
                "site_url": "https://example.org",
                "sender": {"email": "news@example.org"},
                "postal_address": "1 Example Road",
            },
            "feeds": [{"name": "site", "url": "https://example.org/feed"}],
            "regions": [
                {"name": ME, "rules": rules("Iran", "Gaza")},
                {"name": AP, "rules": rules("China")},
                {"name": EU, "rules": rules("Kyiv")},
            ],
        }
    )


NEW = Classifier.from_config(config())
OLD = Classifier.from_config(config(with_rules=False))


def item(key: str, title: str) -> Item:
    url = f"https://example.org/{key}/"
    return Item(key=key, feed="site", url=url, canonical_url=url, title=title)


STORED = [
    StoredItem(item("a", "Iran talks"), FB),  # moves in to Middle East
    StoredItem(item("b", "China trade"), EU),  # moves Europe -> Asia-Pacific
    StoredItem(item("c", "Kyiv strikes"), EU),  # stays
    StoredItem(item("d", "Gaza aid"), EU, region_manual=True),  # an editor's choice: kept
    StoredItem(item("e", "Rolling Stones tour"), AP),  # back to the fallback
    StoredItem(item("f", "Kyiv again"), "Eurasia"),  # a region no longer configured
]


def test_plan_lists_the_moves_and_keeps_editors_placements() -> None:
    moves = plan_reclassify(STORED, NEW)
    assert [(m.key, m.old, m.new) for m in moves] == [
        ("a", FB, ME),
        ("b", EU, AP),
        ("e", AP, FB),
        ("f", "Eurasia", EU),
    ]
    assert moves[0] == Move(
        "a",
        "Iran talks",
        FB,
        ME,
        Classification(ME, RuleMatch("keyword", ME, "Iran", "title", "Iran")),
    )


def test_plan_is_empty_when_the_rules_agree_with_the_store() -> None:
    agreed = [StoredItem(s.item, NEW.classify(s.item).region) for s in STORED]
    assert plan_reclassify(agreed, NEW) == []
    assert format_plan([], NEW.regions) == (
        "No item would move: every stored region matches the current rules."
    )


def test_format_plan_per_region_in_and_out() -> None:
    text = format_plan(plan_reclassify(STORED, NEW), NEW.regions)
    assert text.splitlines() == [
        "4 item(s) would move.",
        "Middle East: 1 in, 0 out",
        '  + a  "Iran talks"  (from More from the site)',
        "Asia-Pacific: 1 in, 1 out",
        '  + b  "China trade"  (from Europe)',
        '  - e  "Rolling Stones tour"  (to More from the site)',
        "Europe: 1 in, 1 out",
        '  + f  "Kyiv again"  (from Eurasia)',
        '  - b  "China trade"  (to Asia-Pacific)',
        "More from the site: 1 in, 1 out",
        '  + e  "Rolling Stones tour"  (from Asia-Pacific)',
        '  - a  "Iran talks"  (to Middle East)',
        "Eurasia (no longer a configured region): 0 in, 1 out",
        '  - f  "Kyiv again"  (to Europe)',
    ]


def test_format_plan_cuts_long_and_hostile_titles() -> None:
    moves = [Move("k\n1", "Iran\x1b[2J " + "x" * 500, FB, ME, NEW.classify(item("k", "Iran")))]
    line = format_plan(moves, NEW.regions).splitlines()[2]
    assert "\x1b" not in line and "\n" not in line
    assert len(line) < 140


def test_plan_from_items_read_back_from_the_store(store: Store) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    items = [
        item("s1", "Iran talks"),
        item("s2", "China trade"),
        item("s3", "Gaza aid"),
        item("s4", "Rolling Stones"),
    ]
    store.upsert_items([(i, OLD.classify(i)) for i in items], now)
    store.set_region_manual("s3", EU)
    moves = plan_reclassify(store.iter_items(), NEW)
    assert [(m.key, m.old, m.new) for m in moves] == [("s1", FB, ME), ("s2", FB, AP)]
    # Applying the plan and planning again: nothing left to move.
    for move in moves:
        store.set_classification(move.key, move.classification)
    assert plan_reclassify(store.iter_items(), NEW) == []
    kept = store.get_item("s3")
    assert kept is not None and (kept.region, kept.region_manual) == (EU, True)
