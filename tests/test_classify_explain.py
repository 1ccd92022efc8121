"""`Classifier.explain` with the shipped rules: every region's score and terms, the
venue, the shared-name qualifiers, longer matches around shorter ones, and the
near ties flagged for an editor. One table; each row is a story as a reader sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classify import Classifier, format_explanation
from bot.config import load_config
from bot.types import Item

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = Classifier.from_config(load_config(ROOT / "config" / "feeds.yaml"))
ME, AP, EU, AF, LA, US, GL = CLASSIFIER.regions


def story(title: str, lede: str = "", tags: tuple[str, ...] = ()) -> Item:
    url = "https://example.org/story/"
    return Item(key="k", feed="site", url=url, canonical_url=url, title=title, lede=lede, tags=tags)


@pytest.mark.parametrize(
    ("title", "lede", "tags", "region", "uncertain", "ranked", "not_counted", "venues"),
    [
        # the venue weighs less than the parties, and the runner-up is close: flagged
        (
            "Iran and the E3 meet in Geneva",
            "Tehran sat down with Britain, France and Germany.",
            (),
            ME,
            True,
            [(ME, "keyword"), (EU, "keyword")],
            [],
            ["Geneva"],
        ),
        # a shared name qualified once: not the Russian capital
        (
            "Moscow, Idaho, murders trial set to begin",
            "The trial opens in Boise.",
            (),
            GL,
            False,
            [],
            [(EU, "Moscow", 'followed by "idaho"')],
            [],
        ),
        # the longer place name wins: South Sudan is Africa's, Sudan the Middle East's
        (
            "South Sudan's Kiir sacks vice president",
            "The move in Juba threatens the deal.",
            (),
            AF,
            False,
            [(AF, "keyword")],
            [(ME, "Sudan", 'after "south"')],
            [],
        ),
        # Jordan the surname, known from the story around it
        (
            "Jordan subpoenas Justice Department officials",
            "House Judiciary Chairman Jim Jordan demanded documents.",
            (),
            US,
            False,
            [(US, "keyword")],
            [(ME, "Jordan", 'with "house judiciary"'), (ME, "Jordan", 'after "jim"')],
            [],
        ),
        # Georgia the state
        (
            "Georgia governor signs election law",
            "",
            (),
            GL,
            False,
            [],
            [(EU, "Georgia", 'followed by "governor"')],
            [],
        ),
        # a phrase of one region around a shorter term of the same region counts once
        (
            "Senate Republicans split on Ukraine aid",
            "",
            (),
            US,
            False,
            [(US, "keyword"), (EU, "keyword")],
            [
                (US, "Senate", 'inside "Senate Republicans"'),
                (US, "Republicans", 'inside "Senate Republicans"'),
            ],
            [],
        ),
        # a foreign leader's name weighs less than the place he speaks of
        (
            "Putin says BRICS could help reach a settlement in Gaza",
            "",
            (),
            ME,
            True,
            [(ME, "keyword"), (EU, "keyword")],
            [],
            [],
        ),
        # the site's tag decides, whatever the keywords say
        (
            "Idlib exposes limits of Russia and Turkey's partnership",
            "",
            ("Analysis | Middle East", "Russia", "Syria"),
            ME,
            False,
            [(ME, "tag"), (EU, "tag")],
            [],
            [],
        ),
        # the fallback's own label is a tag too
        (
            "Nuclear arms control is dead",
            "",
            ("Analysis | Global", "Russia"),
            GL,
            False,
            [(GL, "tag"), (EU, "tag")],
            [],
            [],
        ),
        # a venue alone never places a story
        ("UN climate talks open in Dubai", "", (), GL, False, [(ME, "venue")], [], ["Dubai"]),
    ],
)
def test_explain_scores_terms_and_flags(
    title: str,
    lede: str,
    tags: tuple[str, ...],
    region: str,
    uncertain: bool,
    ranked: list[tuple[str, str]],
    not_counted: list[tuple[str, str, str]],
    venues: list[str],
) -> None:
    e = CLASSIFIER.explain(story(title, lede, tags))
    c = e.classification
    assert (c.region, c.uncertain, e.uncertain) == (region, uncertain, uncertain)
    assert [(s.region, s.kind) for s in e.scores] == ranked
    for first, second in zip(e.scores, e.scores[1:], strict=False):
        if first.kind == second.kind:  # within a kind the evidence ranks them
            assert first.score >= second.score
    for score in e.scores:  # a region's score is its terms' evidence
        assert score.score > 0 and score.terms
        assert all(h.match.region == score.region and h.cancelled_by is None for h in score.hits)
    dropped = [(h.match.region, h.match.matched) for h in e.cancelled]
    assert dropped == [(r, m) for r, m, _ in not_counted]
    for hit, (_, _, why) in zip(e.cancelled, not_counted, strict=True):
        assert hit.cancelled_by is not None and why in hit.cancelled_by
    assert [h.match.matched for h in e.hits if h.venue] == venues
    assert e.classification == CLASSIFIER.classify(story(title, lede, tags))
    text = format_explanation(story(title, lede, tags), e)
    assert ("uncertain:" in text) == uncertain
    for score in e.scores:
        assert f"{score.score:6.2f}" in text


def test_a_venue_weighs_less_than_the_same_place_as_a_party() -> None:
    party = CLASSIFIER.explain(story("Geneva and Iran agree")).scores
    venue = CLASSIFIER.explain(story("Iran agrees at talks in Geneva")).scores
    geneva = {s.region: s.score for s in party}[EU]
    assert {s.region: s.score for s in venue}[EU] < geneva / 2
