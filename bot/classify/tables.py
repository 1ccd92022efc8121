"""The region rules compiled: each pattern, and a table per rule kind to find them.

What it does: keeps each pattern of the config with its place there and its
region (`RulePattern`); per field, one alternation regex over every region's
keywords and the way back from a hit to the patterns behind it
(`KeywordTable`, whose lookups are remembered: the same few hundred names come
up again and again); per region, its url patterns (`UrlTable`, `url_hits`); per
rule, its `not` phrases (`Exclusion`). What most items never need (an
exclusion's regex, a keyword's own regex) is compiled on first use.

What it does not do: read an item as a whole, weigh matches or decide: that is
the `Classifier` (`bot.classify.classifier`) and `bot.classify.scoring`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from bot.classify import text as tx
from bot.classify.names import Qualifiers, SharedNames
from bot.classify.urls import url_alternation, url_pattern

_STEM_INDEX = 3  # stems are looked up by their first letters
_CACHE_LIMIT = 20_000  # distinct keyword hits remembered per field
_SEPARATED = re.compile(r"[\s\-]")


@dataclass(frozen=True)
class RulePattern:
    """One pattern of the config: as written, where, and for which region and rule."""

    text: str  # as written in the config
    source: str
    region: int
    name: str  # the region's
    rule: int | None  # index in the region's rules; None for a name or alias
    weight: float = 1.0
    label: bool = False  # a region's own name or alias (a tag)
    excluded: bool = False  # its rule has `not` phrases
    # a keyword's words and whether it is a stem: its own regex (`_body`) finds
    # where it ends in a hit
    keyword: tuple[tuple[str, ...], bool] | None = None


@dataclass(frozen=True)
class HitInfo:
    """What a keyword hit's text alone tells: the same for every item it is in."""

    # each pattern behind the hit, where it ends in the hit, and the shared-name
    # qualifiers of the words it matched (`SharedNames.qualifiers`)
    patterns: tuple[tuple[RulePattern, int, Qualifiers], ...]
    phrase: bool  # it spans words: another keyword may start inside it
    # it may hold another match: a phrase, or patterns that end in different
    # places ("new york" and "new*")
    nested: bool


@dataclass
class KeywordTable:
    """One field's keyword patterns: one regex for all, and the way back from a
    hit of it to the patterns behind the hit (`patterns_of`)."""

    shared: SharedNames
    keywords: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)
    literal: dict[str, list[RulePattern]] = field(default_factory=dict)
    # a stem's patterns by the first letters of its key, each with the whole key
    stems: dict[str, list[tuple[str, RulePattern]]] = field(default_factory=dict)
    regex: tx.KeywordRegex | None = None
    # The same few hundred names come up again and again: remember their lookups.
    cache: dict[str, HitInfo] = field(default_factory=dict)

    def patterns_of(self, matched: str) -> HitInfo:
        found = self.cache.get(matched)
        if found is None:
            patterns = tuple(
                (p, end, self.shared.qualifiers(tx.hit_key(matched[:end])))
                for p, end in self.lookup(matched)
            )
            phrase = _SEPARATED.search(matched) is not None
            found = HitInfo(patterns, phrase, phrase or len(patterns) > 1)
            if len(self.cache) < _CACHE_LIMIT:
                self.cache[matched] = found
        return found

    def add(self, pattern: RulePattern, parts: tuple[str, ...], stem: bool) -> None:
        """Add a keyword pattern (made with `keyword=(parts, stem)`)."""
        self.keywords.append((parts, stem))
        key = tx.keyword_key(parts)
        if stem:
            self.stems.setdefault(key[:_STEM_INDEX], []).append((key, pattern))
        else:
            self.literal.setdefault(key, []).append(pattern)

    def lookup(self, matched: str) -> Iterator[tuple[RulePattern, int]]:
        """The patterns behind a hit, each with where it ends in the hit.

        The regex reports only the longest phrase at a position, but a shorter
        one starting there matched too (and counts if the longer one does not)."""
        key = tx.hit_key(matched)
        words = key.split(" ")
        for n in range(len(words), 0, -1):
            for p in self.literal.get(" ".join(words[:n]), ()):
                yield from _ends(p, matched)
        for n in range(min(_STEM_INDEX, len(key)), 0, -1):
            for prefix, p in self.stems.get(key[:n], ()):
                if key.startswith(prefix):
                    yield from _ends(p, matched)

    def compile(
        self, cache: dict[tuple[tuple[tuple[str, ...], bool], ...], tx.KeywordRegex]
    ) -> None:
        # The title's and the lede's tables usually hold the same keywords: one regex.
        key = tuple(self.keywords)
        if key not in cache:
            cache[key] = tx.keyword_regex(self.keywords)
        self.regex = cache[key]


@lru_cache(maxsize=8192)
def _body(parts: tuple[str, ...], stem: bool) -> re.Pattern[str]:
    """One keyword's own regex (the same for the title's table and the lede's),
    compiled when a hit first needs it: most keywords never match."""
    return re.compile(tx.keyword_body(parts, stem))


def _ends(pattern: RulePattern, matched: str) -> Iterator[tuple[RulePattern, int]]:
    m = _body(*pattern.keyword).match(matched) if pattern.keyword else None
    if m:
        yield pattern, m.end()


@dataclass
class UrlTable:
    """A region's url patterns, each with its regex, and one regex for all."""

    entries: list[tuple[re.Pattern[str], RulePattern]] = field(default_factory=list)
    regex: re.Pattern[str] | None = None


@dataclass
class Exclusion:
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
class Region:
    index: int
    name: str
    urls: UrlTable = field(default_factory=UrlTable)
    exclusions: dict[int, Exclusion] = field(default_factory=dict)


def url_hits(regions: list[Region], paths: list[tx.Folded]) -> list[tuple[RulePattern, str]]:
    """Each url pattern of `regions` found in `paths`, with the words it matched."""
    found = []
    for region in regions:
        table = region.urls
        for path in paths:
            if table.regex is None or table.regex.search(path.text) is None:
                continue  # the usual case, in one search
            for regex, pattern in table.entries:  # a handful: each on its own
                m = regex.search(path.text)
                if m:
                    found.append((pattern, path.original_span(m.start(), m.end())))
    return found


def compile_exclusion(kind: str, phrases: tuple[str, ...], fields: tuple[str, ...]) -> Exclusion:
    """A rule's `not` list, read like patterns of the rule's own kind."""
    keys = frozenset(k for k in map(tx.tag_key, phrases) if k) if kind == "tag" else frozenset()
    return Exclusion(kind, fields, phrases, tags=keys)


def _exclusion_regex(kind: str, phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    if kind == "url":
        bodies = [b for b in map(url_pattern, phrases) if b is not None]
        return url_alternation(bodies) if bodies else None
    keywords = [k for k in map(tx.keyword_parts, phrases) if k is not None]
    return tx.keyword_alternation(keywords) if keywords else None
