"""The region classifier: rules compiled once, then a pure `classify(item)`.

What it does: builds, from the config, one table per rule kind for all regions
at once (`bot.classify.tables`: a tag dictionary, one alternation regex per field
for every region's keywords, a url regex per region; the feeds' default regions,
the shared-name qualifiers of `classify.names`), finds every match in an item,
drops the ones that do not count (a `not` phrase of their rule, a shared-name
qualifier, or a longer match around them: "Sudan" inside "South Sudan", "Wales"
inside "New South Wales"), weighs the rest and decides (`bot.classify.scoring`):
the best kind of rule decides (`classify.precedence`, default tag > url >
keyword > feed), then the region with the most evidence of it; a near tie is
flagged `uncertain`. An item nothing matches goes to the fallback section, never
dropped. `classify` weighs its matches as light records (`_Found`) and makes a
`RuleMatch` of the deciding one only; `explain` returns the same decision with
every region's score and every match as a `Hit`, counted or not.

What it does not do: read or write the store, judge the rules (`lint_rules`), or
format anything for people (`bot.classify.report`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from bot.classify import scoring as sc
from bot.classify import text as tx
from bot.classify.names import SharedNames
from bot.classify.scoring import Hit, RegionScore
from bot.classify.tables import (
    Exclusion,
    HitInfo,
    KeywordTable,
    Region,
    RulePattern,
    compile_exclusion,
    url_hits,
)
from bot.classify.urls import url_alternation, url_paths, url_pattern
from bot.config import Config, RegionConfig, Rule
from bot.types import Classification, Item, RuleMatch

KINDS = ("tag", "url", "keyword", "feed")
FIELDS = ("title", "lede")
MAX_EXPLAIN_HITS = 200


@dataclass(frozen=True)
class Explanation:
    """An item's classification, every region's evidence, and every match.

    `scores`: the regions with evidence, best first (the winner first, unless
    the item went to the fallback). `uncertain`: the runner-up's score is within
    `classify.near_tie` of the winner's; an editor should look. `hits`: every
    match, counted ones first (heaviest first), then those that did not count.
    """

    classification: Classification
    hits: tuple[Hit, ...] = ()
    precedence: tuple[str, ...] = KINDS
    scores: tuple[RegionScore, ...] = ()
    near_tie: float = 0.8

    @property
    def uncertain(self) -> bool:
        return self.classification.uncertain

    @property
    def matches(self) -> tuple[RuleMatch, ...]:
        """Every match that counted, the deciding one first."""
        return tuple(h.match for h in self.hits if h.cancelled_by is None)

    @property
    def cancelled(self) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.cancelled_by is not None)

    def score_of(self, region: str) -> float:
        return next((s.score for s in self.scores if s.region == region), 0.0)


class _Found(NamedTuple):
    """A match as the classifier records it: what scoring reads (`sc.Evidence`),
    then what a `Hit` shows. Cheaper to build than a `Hit`, which only `hits` and
    `explain` make; `classify` weighs these as they are."""

    region: str
    kind: str
    pattern: str
    weight: float
    venue: bool
    field: str
    matched: str  # a keyword's is read from its field when shown (`_shown`)
    source: str
    cancelled_by: str | None = None
    start: int = -1  # a keyword's place in its field's folded text
    end: int = -1


def _shown(s: _Subject, f: _Found) -> str:
    """The item's own text of a match."""
    if f.kind == "keyword":
        return s.fields[f.field].original_span(f.start, f.end)
    return f.matched


def _rule_match(s: _Subject, f: _Found) -> RuleMatch:
    return RuleMatch(f.kind, f.region, f.pattern, f.field, _shown(s, f))


def _hit(s: _Subject, f: _Found) -> Hit:
    return Hit(_rule_match(s, f), f.source, f.cancelled_by, f.weight, f.venue, f.start, f.end)


def _drop_inside(out: list[_Found], first: int, folded: tx.Folded, keep: bool) -> None:
    """Cancel each keyword match from `out[first]` on that a longer one holds
    ("Sudan" in "South Sudan"): drop it, or if `keep`, mark it."""
    spans = [(f.start, f.end) for f in out[first:] if f.cancelled_by is None]
    kept = out[:first]
    for f in out[first:]:
        by = None if f.cancelled_by is not None else _inside(spans, f.start, f.end)
        if by is None:
            kept.append(f)
        elif keep:
            shown = f'inside "{folded.original_span(*by)}"'
            kept.append(f._replace(weight=0.0, venue=False, cancelled_by=shown))
    out[:] = kept


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The first longer span that holds `start`..`end`, if any."""
    for a, b in spans:
        if a <= start and end <= b and b - a > end - start:
            return a, b
    return None


class _Subject:
    """One item, folded once for every rule that reads it."""

    __slots__ = ("cancels", "feed", "fields", "paths", "story", "tags")

    def __init__(self, item: Item) -> None:
        title = tx.Folded(tx.clip(_str(item.title)))
        lede = tx.Folded(tx.clip(_str(item.lede)))
        self.fields = {"title": title, "lede": lede}
        self.story = (title.text, lede.text)
        tags = item.tags
        # (most items have no tags: no call for them)
        self.tags = tx.tag_keys(tuple(tags)) if tags and isinstance(tags, tuple | list) else []
        self.paths = url_paths(_str(item.url), _str(item.canonical_url))
        self.feed = _str(item.feed)
        self.cancels: dict[tuple[int, int], str | None] = {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


class Classifier:
    """Region rules compiled once; `classify` is a pure function of the item."""

    def __init__(self, config: Config) -> None:
        self._names = config.region_names
        self._fallback = config.fallback.name
        self._precedence: tuple[str, ...] = tuple(config.classify.precedence)
        self._near_tie = config.classify.near_tie
        self._shared = SharedNames(config.classify.names)
        self._tags: dict[str, list[RulePattern]] = {}
        self._keywords = {name: KeywordTable(self._shared) for name in FIELDS}
        self._feeds: dict[str, RulePattern] = {}
        self._regions = [self._compile_region(i, r) for i, r in enumerate(config.regions)]
        # The fallback's own name is the site's label for it too ("Analysis | Global").
        key = tx.tag_key(self._fallback)
        if key:
            fallback = RulePattern(
                self._fallback,
                "fallback.name",
                len(self._regions),
                self._fallback,
                None,
                label=True,
            )
            self._tags.setdefault(key, []).append(fallback)
        cache: dict[tuple[tuple[tuple[str, ...], bool], ...], tx.KeywordRegex] = {}
        for table in self._keywords.values():
            table.compile(cache)
        self._url_regions = [r for r in self._regions if r.urls.regex is not None]
        # Every region's url patterns in one regex: most paths match none of them,
        # and one search tells so (a path it matches is then read region by region).
        bodies = [e[0].pattern for r in self._url_regions for e in r.urls.entries]
        self._any_url = url_alternation(bodies) if bodies else None
        index = {r.name: r.index for r in self._regions}
        for i, feed in enumerate(config.feeds):
            if feed.region is not None and feed.region in index:
                source = f"feeds[{i}].region"
                self._feeds[feed.name] = RulePattern(
                    feed.name, source, index[feed.region], feed.region, None
                )
        self._ranking = sc.Ranking(self._names, self._precedence)

    @classmethod
    def from_config(cls, config: Config) -> Classifier:
        return cls(config)

    @property
    def regions(self) -> tuple[str, ...]:
        """Configured region names, in order, then the fallback."""
        return self._names

    @property
    def fallback(self) -> str:
        return self._fallback

    @property
    def precedence(self) -> tuple[str, ...]:
        return self._precedence

    def classify(self, item: Item) -> Classification:
        s = _Subject(item)
        ranked, by_region = self._ranking.rank(self._collect(s, keep=False))
        winner, others, uncertain = sc.decide(ranked, self._near_tie)
        if winner is None:
            return Classification(region=self._fallback, rule=None)
        rule = _rule_match(s, sc.deciding(by_region[winner.region], winner))
        return Classification(winner.region, rule, self._others(others), uncertain)

    def explain(self, item: Item) -> Explanation:
        hits = self.hits(item, keep_dropped=True)
        classification, scores = self.explain_hits(hits)
        counted = sorted((h for h in hits if h.cancelled_by is None), key=lambda h: -h.weight)
        if classification.rule is not None:  # the deciding match first
            first = next(h for h in counted if h.match == classification.rule)
            counted.remove(first)
            counted.insert(0, first)
        dropped = [h for h in hits if h.cancelled_by is not None]
        shown = tuple((counted + dropped)[:MAX_EXPLAIN_HITS])
        return Explanation(classification, shown, self._precedence, tuple(scores), self._near_tie)

    def explain_hits(self, hits: list[Hit]) -> tuple[Classification, list[RegionScore]]:
        """The decision over a list of matches (`hits`, or matches an editor's
        change would add: see `bot.classify.suggest`)."""
        scores = sc.region_scores(hits, self._names, self._precedence)
        winner, others, uncertain = sc.decide(scores, self._near_tie)
        if winner is None:
            return Classification(region=self._fallback, rule=None), scores
        rule = sc.deciding_hit(winner).match
        return self._classification(winner, rule, others, uncertain), scores

    def _classification(
        self, winner: RegionScore, rule: RuleMatch, others: tuple[str, ...], uncertain: bool
    ) -> Classification:
        return Classification(winner.region, rule, self._others(others), uncertain)

    def _others(self, others: tuple[str, ...]) -> tuple[str, ...]:
        if self._fallback not in others:  # the usual case: no copy
            return others
        return tuple(r for r in others if r != self._fallback)

    # --- matching -----------------------------------------------------------

    def hits(self, item: Item, *, keep_dropped: bool = False) -> list[Hit]:
        """Every match in `item`, weighed; those that do not count only if asked."""
        s = _Subject(item)
        return [_hit(s, f) for f in self._collect(s, keep=keep_dropped)]

    def _collect(self, s: _Subject, *, keep: bool) -> list[_Found]:
        out: list[_Found] = []
        for key, original in s.tags:
            for p in self._tags.get(key, ()):
                self._add(out, s, p, ("tag", "tags", original), keep)
        paths = self._matching_paths(s)
        for p, matched in url_hits(self._url_regions, paths) if paths else ():
            self._add(out, s, p, ("url", "url", matched), keep)
        for name in FIELDS:
            self._keyword_hits(out, s, name, keep)
        feed = self._feeds.get(s.feed)
        if feed is not None:
            self._add(out, s, feed, ("feed", "feed", s.feed), keep)
        return out

    def _matching_paths(self, s: _Subject) -> list[tx.Folded]:
        """The item's paths some url pattern matches."""
        regex = self._any_url
        return [p for p in s.paths if regex.search(p.text)] if regex is not None else []

    def _add(
        self, out: list[_Found], s: _Subject, p: RulePattern, what: tuple[str, str, str], keep: bool
    ) -> None:
        """Add a tag, url or feed match; `what`: its kind, field and matched text."""
        kind, field, matched = what
        by = self._cancelled_by(p, s)
        if by is None:
            weight = sc.fixed_weight(kind, p.label, p.weight)
            out.append(_Found(p.name, kind, p.text, weight, False, field, matched, p.source))
        elif keep:
            out.append(_Found(p.name, kind, p.text, 0.0, False, field, matched, p.source, by))

    def _keyword_hits(self, out: list[_Found], s: _Subject, name: str, keep: bool) -> None:
        table = self._keywords[name]
        if table.regex is None:
            return
        text = s.fields[name].text
        regex = table.regex.on(text)
        first = len(out)
        nested = False  # whether one match may hold another (the regex's never overlap)
        for m in regex.finditer(text):
            info = self._keyword_match(out, s, table, name, m, keep)
            if not info.nested:
                continue
            nested = True
            if not info.phrase:
                continue
            # a phrase: another keyword may start inside it ("Jong Un" in "Kim Jong Un")
            inner = regex.search(text, m.start() + 1, m.end())
            while inner is not None:
                self._keyword_match(out, s, table, name, inner, keep)
                inner = regex.search(text, inner.start() + 1, m.end())
        if nested:
            _drop_inside(out, first, s.fields[name], keep)

    def _keyword_match(
        self,
        out: list[_Found],
        s: _Subject,
        table: KeywordTable,
        name: str,
        m: re.Match[str],
        keep: bool,
    ) -> HitInfo:
        """Add the matches of the patterns behind one hit of a field's regex."""
        text = m.string
        start = m.start()
        info = table.patterns_of(m.group())
        for p, length, qualifiers in info.patterns:
            end = start + length
            by = self._cancelled_by(p, s) if p.excluded else None
            if by is None and qualifiers:
                by = SharedNames.check(qualifiers, text, start, end, s.story)
            if by is None:
                venue = sc.is_venue(text, start, end)
                weight = sc.keyword_weight(name, p.weight, start / (len(text) or 1), venue)
            elif keep:
                venue, weight = False, 0.0
            else:
                continue
            out.append(
                _Found(p.name, "keyword", p.text, weight, venue, name, "", p.source, by, start, end)
            )
        return info

    def _cancelled_by(self, p: RulePattern, s: _Subject) -> str | None:
        if not p.excluded or p.rule is None or p.region >= len(self._regions):
            return None
        region = self._regions[p.region]
        exclusion = region.exclusions.get(p.rule)
        if exclusion is None:
            return None
        key = (p.region, p.rule)
        if key not in s.cancels:
            s.cancels[key] = _find_exclusion(exclusion, s)
        return s.cancels[key]

    # --- compiling -------------------------------------------------------------

    def _compile_region(self, index: int, config: RegionConfig) -> Region:
        region = Region(index, config.name)
        implicit = [(config.name, f"regions[{index}].name")] + [
            (alias, f"regions[{index}].aliases[{j}]") for j, alias in enumerate(config.aliases)
        ]
        for text, source in implicit:
            key = tx.tag_key(text)
            if key:
                self._tags.setdefault(key, []).append(
                    RulePattern(text, source, index, config.name, None, label=True)
                )
        for j, rule in enumerate(config.rules):
            self._compile_rule(region, j, rule)
        if region.urls.entries:
            region.urls.regex = url_alternation([e[0].pattern for e in region.urls.entries])
        return region

    def _compile_rule(self, region: Region, j: int, rule: Rule) -> None:
        source = f"regions[{region.index}].rules[{j}]"
        fields = tuple(f for f in FIELDS if f in rule.fields)
        for text in rule.patterns:
            parsed = tx.keyword_parts(text) if rule.kind == "keyword" else None
            pattern = RulePattern(
                text,
                source,
                region.index,
                region.name,
                j,
                rule.weight,
                excluded=bool(rule.exclude),
                keyword=parsed,
            )
            if rule.kind == "tag":
                key = tx.tag_key(text)
                if key:
                    self._tags.setdefault(key, []).append(pattern)
            elif rule.kind == "url":
                body = url_pattern(text)
                if body is not None:
                    region.urls.entries.append((re.compile(body), pattern))
            elif parsed is not None:
                for name in fields:
                    self._keywords[name].add(pattern, *parsed)
        if rule.exclude:
            region.exclusions[j] = compile_exclusion(rule.kind, rule.exclude, fields)


def _find_exclusion(exclusion: Exclusion, s: _Subject) -> str | None:
    if exclusion.kind == "tag":
        found = next((orig for key, orig in s.tags if key in exclusion.tags), None)
        return None if found is None else f'tag "{found}"'
    if exclusion.regex is None:
        return None
    if exclusion.kind == "url":
        for path in s.paths:
            m = exclusion.regex.search(path.text)
            if m:
                return f'"{path.original_span(m.start(), m.end())}" in url'
        return None
    for name in exclusion.fields:
        folded = s.fields[name]
        m = exclusion.regex.search(folded.text)
        if m:
            return f'"{folded.original_span(m.start(), m.end())}" in {name}'
    return None
