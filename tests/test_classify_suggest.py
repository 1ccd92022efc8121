"""`suggest`: rule changes proposed from editors' moves, tried on every stored story
with the classifier's own weighing. A table of stored stories and what it proposes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classify import Classifier
from bot.classify.suggest import disagreements, format_suggestions, suggest
from bot.config import load_config
from bot.types import Item, StoredItem

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = Classifier.from_config(load_config(ROOT / "config" / "feeds.yaml"))
ME, AP, EU, AF, LA, US, GL = CLASSIFIER.regions


def stored(key: str, title: str, region: str, manual: bool = False, lede: str = "") -> StoredItem:
    url = f"https://example.org/{key}/"
    item = Item(key=key, feed="site", url=url, canonical_url=url, title=title, lede=lede)
    return StoredItem(item, region, region_manual=manual)


WAGNER = stored("m1", "Wagner fighters guard gold mines for the Kremlin", AF, manual=True)
OTHERS = [
    stored("o1", "Wagner mutiny shakes Moscow", EU),  # would move to Africa
    stored("o2", "Wagner fighters leave Mali", AF),  # already Africa: not a move
    stored("o3", "Kremlin denies plot", EU),
]


@pytest.mark.parametrize(
    ("stories", "disagreeing", "expected"),
    [
        # nothing moved by an editor: nothing to learn
        (OTHERS, 0, []),
        # the editor put the Wagner story in Africa; the Kremlin pulled it to Europe.
        # Adding "Wagner" to Africa places it and moves one other story; taking
        # "Kremlin" out of Europe would not place it in Africa, so it is not proposed.
        ([WAGNER, *OTHERS], 1, [("add", AF, "Wagner", ("m1",), 1)]),
        # an editor's move the rules already agree with teaches nothing
        ([stored("m2", "Mali's junta dissolves parties", AF, manual=True), *OTHERS], 0, []),
        # a move to a section the config no longer has is left alone
        ([stored("m3", "Kremlin denies plot", "Eurasia", manual=True)], 0, []),
        # the term that pulled the story away, when taking it out places it
        (
            [
                stored("m4", "A think tank urges restraint on Taiwan", AP, manual=True),
                stored("o4", "Think tank funding rules tighten", US),
            ],
            1,
            [("remove", US, "think tank*", ("m4",), 1)],
        ),
    ],
)
def test_suggestions_from_editors_moves(
    stories: list[StoredItem],
    disagreeing: int,
    expected: list[tuple[str, str, str, tuple[str, ...], int]],
) -> None:
    assert disagreements(stories, CLASSIFIER) == disagreeing
    found = suggest(stories, CLASSIFIER)
    assert [(s.action, s.region, s.keyword, s.agrees, s.moves) for s in found] == expected
    text = format_suggestions(found, disagreeing)
    assert text.endswith("--dry-run.") or disagreeing == 0
    for s in found:
        assert s.keyword in text


def test_suggest_changes_nothing() -> None:
    stories = [WAGNER, *OTHERS]
    before = [CLASSIFIER.classify(s.item) for s in stories]
    suggest(stories, CLASSIFIER)
    assert [CLASSIFIER.classify(s.item) for s in stories] == before
    assert format_suggestions([], 0).startswith("Every story an editor moved")
