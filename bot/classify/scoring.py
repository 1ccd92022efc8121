"""Weighing region evidence: what one match is worth, and which region wins.

What it does: gives each match that counts a weight (`weigh`) from its rule's
kind, the field it is in (the title above the lede), how early in the title it
is, its rule's own `weight`, and whether it names only the place of a meeting
("talks in Geneva", "a summit hosted by Turkey", "at Ankara talks": a venue
weighs `VENUE` of a party); then adds a region's matches up (`Ranking.rank`:
each distinct term counts once in full, its repeats a little) and decides
(`decide`): the best kind of rule in `classify.precedence` still decides (a site
tag beats any number of keywords), the region with the most evidence of that
kind wins, and a runner-up within `classify.near_tie` of the winner makes the
placement uncertain. A region whose only evidence is a venue never wins. The
matches may be `Hit`s or any lighter record with the same fields (`Evidence`:
`classify` makes no `Hit` per match); `region_scores` returns the regions as
`RegionScore`s with their hits, for `explain`.

What it does not do: find matches (`bot.classify.classifier`) or print anything
(`bot.classify.report`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple, Protocol, TypeVar

from bot.types import RuleMatch

# What one match of each kind weighs before the field and the rule's own weight.
# A tag naming a region's own section (its name or an alias: the site's kicker)
# weighs most: it is the site's editors speaking.
LABEL_TAG = 20.0
KIND_WEIGHT = {"tag": 8.0, "url": 4.0, "keyword": 1.0, "feed": 0.5}
FIELD_WEIGHT = {"title": 2.0, "lede": 1.0}
# A title match's weight falls from x1.5 at its first word to x1 at its last.
TITLE_LEAD = 0.5
VENUE = 0.3  # a place of meeting weighs this share of a party to the story
REPEAT = 0.25  # a term found again adds this share of its weight

# The words before a place that make it the venue of a meeting, not a party:
# "talks in", "a summit in", "a conference at", "hosted by", "a pact signed in".
# Read on folded text; at most a few words between the meeting and the place.
_MEETING = (
    "talk|talks|summit|summits|conference|meeting|meetings|meet|meets|met|forum|negotiations"
    "|gathering|pact|accord|treaty|deal|expo|visit|visits|visiting|trip|session|round"
)
# Both patterns before a place end where the place starts, so they are matched
# on the words before it read backwards, from their start, rather than searched
# for at every position ("talks in the " reads " eht ni sklat"): the same matches
# for a fraction of the work. Forwards they read
#   (?:\b(?:MEETING)\b[^.;:!?|]{0,30}?\b(?:in|at|to)|\bhosted\s+(?:by|in))\s+(?:the\s+)?$
#   \b(?:at|in)\s+(?:the\s+)?$  (then a meeting right after the place: "at Ankara talks")
_MEETING_BACKWARDS = "|".join(word[::-1] for word in _MEETING.split("|"))
_VENUE_BEFORE_BACKWARDS = re.compile(
    r"(?:\s+eht)?\s+"
    rf"(?:(?:ni|ta|ot)\b[^.;:!?|]{{0,30}}?\b(?:{_MEETING_BACKWARDS})\b|(?:yb|ni)\s+detsoh\b)"
)
_AT_BEFORE_BACKWARDS = re.compile(r"(?:\s+eht)?\s+(?:ta|ni)\b")
_VENUE_AFTER = re.compile(r"[\s-]+(?:talks|summit|conference|meeting|forum|negotiations)\b")
_LOOK_BACK = 60


@dataclass(frozen=True)
class Hit:
    """One rule that matched an item: the match, the rule's place in the config,
    what it weighed, and, when it did not count, why.

    `cancelled_by` is set when the match did not count: a `not` phrase of its
    rule, a shared-name qualifier (`classify.names`), or a longer match around it
    ("Sudan" inside "South Sudan"). `weight` is what it added to its region's
    evidence (before repeats of the same term are discounted); `venue` marks a
    place of meeting.
    """

    match: RuleMatch
    source: str  # "regions[0].rules[2]", "regions[1].aliases[0]", "feeds[3].region"
    cancelled_by: str | None = None
    weight: float = 0.0
    venue: bool = False
    # where a keyword match is in its field's folded text (-1: not a keyword)
    start: int = -1
    end: int = -1

    # What scoring reads of it (`Evidence`).
    @property
    def region(self) -> str:
        return self.match.region

    @property
    def kind(self) -> str:
        return self.match.kind

    @property
    def pattern(self) -> str:
        return self.match.pattern


@dataclass(frozen=True)
class RegionScore:
    """A region's evidence for one item: its score, its best kind of rule, and
    the matches behind it, heaviest first."""

    region: str
    score: float
    kind: str  # the best kind among its matches (a venue alone: "venue")
    hits: tuple[Hit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct patterns that matched, heaviest first."""
        return tuple(dict.fromkeys(h.match.pattern for h in self.hits))


def is_venue(text: str, start: int, end: int) -> bool:
    """Whether the place at `text[start:end]` (folded) is only where people meet."""
    before = text[max(0, start - _LOOK_BACK) : start]
    # A cheap test every venue passes first: both venue patterns end in "in",
    # "at", "to" or "by", then spaces, then perhaps "the" and spaces (`str.rstrip`
    # strips the same spaces as the patterns' `\s`). Most places fail it, and
    # skip the searches.
    tail = before.rstrip()
    if len(tail) == len(before) or not (tail[-2:] in _PREPOSITIONS or tail.endswith("the")):
        return False
    backwards = before[::-1]
    if _VENUE_BEFORE_BACKWARDS.match(backwards):
        return True
    return bool(_AT_BEFORE_BACKWARDS.match(backwards) and _VENUE_AFTER.match(text, end))


_PREPOSITIONS = frozenset({"in", "at", "to", "by"})


def weigh(
    kind: str, field: str, *, label: bool, rule_weight: float, position: float, venue: bool
) -> float:
    """One match's weight. `position`: where in the title it starts, 0..1."""
    if kind == "keyword":
        return keyword_weight(field, rule_weight, position, venue)
    return fixed_weight(kind, label, rule_weight)


def fixed_weight(kind: str, label: bool, rule_weight: float) -> float:
    """`weigh` of a tag, url or feed match, which neither its field nor its place
    changes (positional arguments: the classifier calls it for every one)."""
    base = LABEL_TAG if kind == "tag" and label else KIND_WEIGHT[kind]
    return round(base * rule_weight, 4)


def keyword_weight(field: str, rule_weight: float, position: float, venue: bool) -> float:
    """`weigh` of a keyword match (called for every one: no keyword arguments)."""
    weight = KIND_WEIGHT["keyword"] * rule_weight
    weight *= FIELD_WEIGHT.get(field, 1.0)
    if field == "title":
        weight *= 1.0 + TITLE_LEAD * (1.0 - position)
    if venue:
        weight *= VENUE
    return round(weight, 4)


def term_sum(weights: Iterable[float]) -> float:
    """A term's evidence: its best match in full, each repeat a quarter."""
    ordered = sorted(weights, reverse=True)
    return ordered[0] + REPEAT * sum(ordered[1:]) if ordered else 0.0


class Evidence(Protocol):
    """What scoring reads of one match that counted: a `Hit`, or the classifier's
    own cheaper record of one (`classify` needs no `Hit` per match)."""

    @property
    def region(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def venue(self) -> bool: ...


E = TypeVar("E", bound=Evidence)


class Ranked(NamedTuple):
    """A region's evidence added up: its score and its best kind of rule."""

    region: str
    score: float
    kind: str  # the best kind among its matches (a venue alone: "venue")


class Ranking:
    """Adds up each region's evidence and orders the regions (`rank`), for one
    list of regions and one precedence of rule kinds."""

    def __init__(self, regions: Sequence[str], precedence: Sequence[str]) -> None:
        self._rank = {kind: i for i, kind in enumerate(precedence)}
        self._order = {name: i for i, name in enumerate(regions)}

    def rank(self, evidence: Iterable[E]) -> tuple[list[Ranked], dict[str, list[E]]]:
        """Every region with evidence, best first: by best kind, then score, then
        order; and each region's evidence, in the order given."""
        by_region: dict[str, list[E]] = {}
        for e in evidence:
            by_region.setdefault(e.region, []).append(e)
        ranked = [self._score(region, found) for region, found in by_region.items()]
        if len(ranked) > 1:
            ranked.sort(key=self._sort_key)
        return ranked, by_region

    def _score(self, region: str, found: list[E]) -> Ranked:
        if len(found) == 1:  # the usual case, in short: one term, counted in full
            e = found[0]
            return Ranked(region, round(e.weight, 3), "venue" if e.venue else e.kind)
        terms: dict[tuple[str, str], list[float]] = {}
        for e in found:
            terms.setdefault((e.kind, e.pattern), []).append(e.weight)
        # (a term matched once is its weight: `term_sum` without the sort)
        score = round(sum([w[0] if len(w) == 1 else term_sum(w) for w in terms.values()]), 3)
        decisive = [e.kind for e in found if not e.venue]
        kind = min(decisive, key=self._rank.__getitem__) if decisive else "venue"
        return Ranked(region, score, kind)

    def _sort_key(self, r: Ranked) -> tuple[int, float, int]:
        return (self._rank.get(r.kind, len(self._rank)), -r.score, self._order.get(r.region, 0))


# Stable sorts by weight, heaviest first: `reverse=True` keeps equal weights in order.
_WEIGHT = attrgetter("weight")


def region_scores(
    hits: Sequence[Hit], regions: Sequence[str], precedence: Sequence[str]
) -> list[RegionScore]:
    """Every region with evidence, best first: by best kind, then score, then order."""
    counted = [h for h in hits if h.cancelled_by is None]
    ranked, by_region = Ranking(regions, precedence).rank(counted)
    return [
        RegionScore(
            r.region, r.score, r.kind, tuple(sorted(by_region[r.region], key=_WEIGHT, reverse=True))
        )
        for r in ranked
    ]


class Scored(Protocol):
    """A region's added-up evidence: a `Ranked` or a `RegionScore`."""

    @property
    def region(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def kind(self) -> str: ...


S = TypeVar("S", bound=Scored)


def decide(scores: Sequence[S], near_tie: float) -> tuple[S | None, tuple[str, ...], bool]:
    """The winner (None: the fallback), the other candidates, and whether it is a
    near thing. `scores` comes from `region_scores` or `Ranking.rank`, best first."""
    if not scores or scores[0].kind == "venue":
        return None, (), False
    winner = scores[0]
    others = tuple(s.region for s in scores[1:])
    rival = scores[1] if len(scores) > 1 and scores[1].kind == winner.kind else None
    uncertain = rival is not None and rival.score >= near_tie * winner.score
    return winner, others, uncertain


def deciding_hit(winner: RegionScore) -> Hit:
    """The winner's heaviest match of its best kind: the rule shown as deciding."""
    return next(h for h in winner.hits if h.match.kind == winner.kind and not h.venue)


def deciding(found: Iterable[E], winner: Ranked) -> E:
    """`deciding_hit` from the winner's evidence as `Ranking.rank` gave it: the
    first of its heaviest matches of its best kind that is not a venue."""
    best: E | None = None
    for e in found:
        if e.kind == winner.kind and not e.venue and (best is None or e.weight > best.weight):
            best = e
    if best is None:
        raise ValueError(f"no deciding match for {winner.region}")
    return best
