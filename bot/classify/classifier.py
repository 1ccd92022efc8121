"""The region classifier: rules compiled once, then a pure `classify(item)`.

What it does: builds, from the config, one table per region and rule kind (a tag
dictionary, one alternation regex per region and field for keywords, one for url
patterns, the feeds' default regions) and answers, for an item, which region it
goes to (`classify`) and why (`explain`). Precedence (`classify.precedence`,
default tag > url > keyword > feed): each region's best match is the first kind
in that order that matches; the region with the best kind wins, ties going to
the region listed first in the config; the others that matched become the
item's `candidates`, best first. An item nothing matches goes to the fallback
section, never dropped. A rule's `not` phrases cancel the whole rule for an item
when any of them is found in the fields the rule reads (a keyword rule's title
and lede, a tag rule's tags, a url rule's path).

What it does not do: read or write the store, judge the rules (`lint_rules`), or
format anything for people (`bot.classify.report`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from bot.classify import text as tx
from bot.config import Config, RegionConfig, Rule
from bot.types import Classification, Item, RuleMatch

KINDS = ("tag", "url", "keyword", "feed")
FIELDS = ("title", "lede")
MAX_EXPLAIN_HITS = 200


@dataclass(frozen=True)
class Hit:
    """One rule that matched an item: the match, the rule's place in the config,
    and, if one of the rule's `not` phrases cancelled it, what was found."""

    match: RuleMatch
    source: str  # "regions[0].rules[2]", "regions[1].aliases[0]", "feeds[3].region"
    cancelled_by: str | None = None


@dataclass(frozen=True)
class Explanation:
    """An item's classification and every rule that matched it, best first."""

    classification: Classification
    hits: tuple[Hit, ...] = ()
    precedence: tuple[str, ...] = KINDS

    @property
    def matches(self) -> tuple[RuleMatch, ...]:
        """Every match that counted (not cancelled), the deciding one first."""
        return tuple(h.match for h in self.hits if h.cancelled_by is None)

    @property
    def cancelled(self) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.cancelled_by is not None)


@dataclass(frozen=True)
class _Pattern:
    text: str  # as written in the config
    source: str
    rule: int | None  # index in the region's rules; None for a name or alias
    prefix: str = ""  # a stem's key, to check a hit against
    regex: re.Pattern[str] | None = None  # a keyword's own regex, to find its end in a hit


@dataclass
class _KeywordTable:
    keywords: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)
    literal: dict[str, list[_Pattern]] = field(default_factory=dict)
    stems: list[_Pattern] = field(default_factory=list)
    regex: re.Pattern[str] | None = None

    def add(self, pattern: _Pattern, parts: tuple[str, ...], stem: bool) -> None:
        self.keywords.append((parts, stem))
        key = tx.keyword_key(parts)
        body = tx.keyword_body(parts, stem)
        own = replace(pattern, prefix=key if stem else "", regex=re.compile(body))
        if stem:
            self.stems.append(own)
        else:
            self.literal.setdefault(key, []).append(own)

    def lookup(self, matched: str) -> Iterator[tuple[_Pattern, int]]:
        """The patterns behind a hit, each with where it ends in the hit.

        The regex reports only the longest phrase at a position, but a shorter
        one starting there matched too (and counts if the longer one's rule is
        cancelled)."""
        key = tx.hit_key(matched)
        words = key.split(" ")
        candidates = [
            p for n in range(len(words), 0, -1) for p in self.literal.get(" ".join(words[:n]), ())
        ]
        candidates.extend(p for p in self.stems if key.startswith(p.prefix))
        for pattern in candidates:
            m = pattern.regex.match(matched) if pattern.regex else None
            if m:
                yield pattern, m.end()

    def compile(
        self, cache: dict[tuple[tuple[tuple[str, ...], bool], ...], re.Pattern[str]]
    ) -> None:
        # The title's and the lede's tables usually hold the same keywords: one regex.
        key = tuple(self.keywords)
        if key not in cache:
            cache[key] = tx.keyword_alternation(self.keywords)
        self.regex = cache[key]


@dataclass
class _UrlTable:
    entries: list[tuple[re.Pattern[str], _Pattern]] = field(default_factory=list)
    regex: re.Pattern[str] | None = None


@dataclass
class _Exclusion:
    """A rule's `not` phrases, compiled on first use: most never need to be."""

    kind: str
    fields: tuple[str, ...]
    phrases: tuple[str, ...]
    tags: frozenset[str] = frozenset()
    _regex: re.Pattern[str] | None = None
    _compiled: bool = False

    @property
    def regex(self) -> re.Pattern[str] | None:
        if not self._compiled:
            self._regex = _exclusion_regex(self.kind, self.phrases)
            self._compiled = True
        return self._regex


@dataclass
class _Region:
    index: int
    name: str
    tags: dict[str, list[_Pattern]] = field(default_factory=dict)
    keywords: dict[str, _KeywordTable] = field(default_factory=dict)
    urls: _UrlTable = field(default_factory=_UrlTable)
    exclusions: dict[int, _Exclusion] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)  # feed name -> source


class _Subject:
    """One item, folded once for every rule that reads it."""

    def __init__(self, item: Item) -> None:
        self.fields = {
            "title": tx.Folded(tx.clip(_str(item.title))),
            "lede": tx.Folded(tx.clip(_str(item.lede))),
        }
        tags = item.tags if isinstance(item.tags, tuple | list) else ()
        self.tags = tx.tag_keys(tuple(tags))
        self.tag_set = {key for key, _ in self.tags}
        self.paths = list(tx.url_paths(_str(item.url), _str(item.canonical_url)))
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
        self._regions = [_compile_region(i, r) for i, r in enumerate(config.regions)]
        self._finders = {
            "tag": self._tag_hits,
            "url": self._url_hits,
            "keyword": self._keyword_hits,
            "feed": self._feed_hits,
        }
        by_name = {r.name: r for r in self._regions}
        for i, feed in enumerate(config.feeds):
            if feed.region is not None and feed.region in by_name:
                by_name[feed.region].feeds[feed.name] = f"feeds[{i}].region"

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
        return self._decide(_Subject(item))

    def explain(self, item: Item) -> Explanation:
        subject = _Subject(item)
        ranked = list(islice(self._all_hits(subject), MAX_EXPLAIN_HITS))
        ranked.sort(key=lambda r: r[:3])  # stable: the order found is kept within a rank
        return Explanation(self._decide(subject), tuple(r[3] for r in ranked), self._precedence)

    def _all_hits(self, subject: _Subject) -> Iterator[tuple[bool, int, int, Hit]]:
        """Every distinct hit, cancelled or not, with its sort key."""
        seen: set[tuple[str, str, str, str, bool]] = set()
        for region in self._regions:
            for rank, kind in enumerate(self._precedence):
                for hit in self._hits(region, kind, subject, cancelled=True):
                    m = hit.match
                    key = (m.region, m.kind, m.pattern, m.field, hit.cancelled_by is None)
                    if key not in seen:
                        seen.add(key)
                        yield hit.cancelled_by is not None, rank, region.index, hit

    def _decide(self, subject: _Subject) -> Classification:
        best: list[tuple[int, int, Hit]] = []
        for region in self._regions:
            for rank, kind in enumerate(self._precedence):
                hit = next(self._hits(region, kind, subject, cancelled=False), None)
                if hit is not None:
                    best.append((rank, region.index, hit))
                    break
        if not best:
            return Classification(region=self._fallback, rule=None)
        best.sort(key=lambda b: (b[0], b[1]))
        winner = best[0][2].match
        others = tuple(b[2].match.region for b in best[1:])
        return Classification(region=winner.region, rule=winner, candidates=others)

    # --- matching -----------------------------------------------------------

    def _hits(self, region: _Region, kind: str, s: _Subject, *, cancelled: bool) -> Iterator[Hit]:
        for pattern, match in self._finders[kind](region, s):
            by = self._cancelled_by(region, pattern.rule, s)
            if by is None or cancelled:
                yield Hit(match, pattern.source, by)

    def _tag_hits(self, region: _Region, s: _Subject) -> Iterator[tuple[_Pattern, RuleMatch]]:
        for key, original in s.tags:
            for pattern in region.tags.get(key, ()):
                yield pattern, RuleMatch("tag", region.name, pattern.text, "tags", original)

    def _url_hits(self, region: _Region, s: _Subject) -> Iterator[tuple[_Pattern, RuleMatch]]:
        table = region.urls
        if table.regex is None:
            return
        for path in s.paths:
            if table.regex.search(path.text) is None:
                continue  # the usual case, in one search
            for regex, pattern in table.entries:  # a handful: each on its own
                m = regex.search(path.text)
                if m:
                    matched = path.original_span(m.start(), m.end())
                    yield pattern, RuleMatch("url", region.name, pattern.text, "url", matched)

    def _keyword_hits(self, region: _Region, s: _Subject) -> Iterator[tuple[_Pattern, RuleMatch]]:
        for name in FIELDS:
            table = region.keywords.get(name)
            if table is None or table.regex is None:
                continue
            folded = s.fields[name]
            m = table.regex.search(folded.text)
            while m is not None:
                for pattern, length in table.lookup(m.group()):
                    matched = folded.original_span(m.start(), m.start() + length)
                    yield pattern, RuleMatch("keyword", region.name, pattern.text, name, matched)
                # on from the next character, not the hit's end: another keyword
                # may start inside this one ("Jong Un" in "Kim Jong Un")
                m = table.regex.search(folded.text, m.start() + 1)

    def _feed_hits(self, region: _Region, s: _Subject) -> Iterator[tuple[_Pattern, RuleMatch]]:
        source = region.feeds.get(s.feed)
        if source is not None:
            pattern = _Pattern(s.feed, source, None)
            yield pattern, RuleMatch("feed", region.name, s.feed, "feed", s.feed)

    def _cancelled_by(self, region: _Region, rule: int | None, s: _Subject) -> str | None:
        if rule is None or rule not in region.exclusions:
            return None
        key = (region.index, rule)
        if key not in s.cancels:
            s.cancels[key] = _find_exclusion(region.exclusions[rule], s)
        return s.cancels[key]


def _find_exclusion(exclusion: _Exclusion, s: _Subject) -> str | None:
    if exclusion.kind == "tag":
        if not exclusion.tags & s.tag_set:
            return None
        found = next(orig for key, orig in s.tags if key in exclusion.tags)
        return f'tag "{found}"'
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


# --- compiling ---------------------------------------------------------------


def _compile_region(index: int, config: RegionConfig) -> _Region:
    region = _Region(index, config.name)
    implicit = [(config.name, f"regions[{index}].name")] + [
        (alias, f"regions[{index}].aliases[{j}]") for j, alias in enumerate(config.aliases)
    ]
    for text, source in implicit:
        key = tx.tag_key(text)
        if key:
            region.tags.setdefault(key, []).append(_Pattern(text, source, None))
    for j, rule in enumerate(config.rules):
        _compile_rule(region, j, rule)
    cache: dict[tuple[tuple[tuple[str, ...], bool], ...], re.Pattern[str]] = {}
    for table in region.keywords.values():
        table.compile(cache)
    if region.urls.entries:
        region.urls.regex = tx.url_alternation([e[0].pattern for e in region.urls.entries])
    return region


def _compile_rule(region: _Region, j: int, rule: Rule) -> None:
    source = f"regions[{region.index}].rules[{j}]"
    fields = tuple(f for f in FIELDS if f in rule.fields)
    for text in rule.patterns:
        pattern = _Pattern(text, source, j)
        if rule.kind == "tag":
            key = tx.tag_key(text)
            if key:
                region.tags.setdefault(key, []).append(pattern)
        elif rule.kind == "url":
            body = tx.url_pattern(text)
            if body is not None:
                region.urls.entries.append((re.compile(body), pattern))
        else:
            parsed = tx.keyword_parts(text)
            if parsed is not None:
                for name in fields:
                    region.keywords.setdefault(name, _KeywordTable()).add(pattern, *parsed)
    if rule.exclude:
        region.exclusions[j] = compile_exclusion(rule.kind, rule.exclude, fields)


def compile_exclusion(kind: str, phrases: tuple[str, ...], fields: tuple[str, ...]) -> _Exclusion:
    """A rule's `not` list, read like patterns of the rule's own kind."""
    keys = frozenset(k for k in map(tx.tag_key, phrases) if k) if kind == "tag" else frozenset()
    return _Exclusion(kind, fields, phrases, tags=keys)


def _exclusion_regex(kind: str, phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    if kind == "url":
        bodies = [b for b in map(tx.url_pattern, phrases) if b is not None]
        return tx.url_alternation(bodies) if bodies else None
    keywords = [k for k in map(tx.keyword_parts, phrases) if k is not None]
    return tx.keyword_alternation(keywords) if keywords else None
