"""One story once: finding the same story syndicated under two keys.

The store already treats two items with the same key or canonical URL as one
story, but a story reposted by a partner feed arrives with another URL and, often,
a slightly different title ("Iran's new Gulf strategy" / "Iran’s New Gulf
Strategy"). Two items are the same story when:

- their canonical URLs are equal, or
- their normalised titles are equal or near-identical, and both are at least 20
  characters long (short titles such as "Weekly update" repeat legitimately, and
  a story dropped by mistake is worse than a duplicate an editor can exclude).
  Near-identical: either one is the other with at most three words set off by a
  separator (``|``, ``:``, a dash) in front or behind ("Opinion: ...", "... |
  Responsible Statecraft"), or both carry the same numbers ("Episode 12" is not
  "Episode 13"), at least half their distinct words are shared (Dice), difflib's
  ratio is at least 0.9 and no word is swapped for a different one ("... means
  for Iran" is not "... means for Iraq"; "talks" for "talk", ratio at least 0.8,
  is a respelling). Words added without a separator make another story ("... for
  Iran and Israel").

Normalising: Unicode NFKC, case folded, accents dropped, apostrophes and dots
removed ("U.S." = "US"), every other punctuation mark a space, whitespace
collapsed, at most 300 characters (a hostile feed's title bounds no work).

Of a group of copies the earliest published one is kept (first seen when a feed
gives no date), then the most complete (lede, image, author, content, tags), then
the smallest key, so the choice never depends on input order. This module decides
only; it does not read the store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import SequenceMatcher

from bot.types import Item, StoredItem

SIMILARITY = 0.9
WORD_SIMILARITY = 0.8
SHARED_WORDS = 0.5
MAX_FRAME_WORDS = 3
MIN_FUZZY_CHARS = 20
MAX_TITLE_CHARS = 300
_NEVER = datetime.max.replace(tzinfo=UTC)
_DROPPED = re.compile(r"['’‘`.]")
_PUNCT = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+")
_SEPARATOR = re.compile(r"\s*[|–—]\s*|:\s+|\s+-\s+")


def normalise_title(title: str) -> str:
    """The form two titles are compared in (see the module docstring)."""
    text = unicodedata.normalize("NFKD", title[: MAX_TITLE_CHARS * 2].casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _PUNCT.sub(" ", _DROPPED.sub("", unicodedata.normalize("NFKC", text)))
    return " ".join(text.split())[:MAX_TITLE_CHARS]


@dataclass(frozen=True)
class _Title:
    """A normalised title with what the comparison needs, computed once."""

    text: str
    words: tuple[str, ...]
    vocabulary: frozenset[str]
    numbers: tuple[str, ...]

    @classmethod
    def of(cls, normalised: str) -> _Title:
        words = tuple(normalised.split())
        numbers = tuple(sorted(_NUMBER.findall(normalised)))
        return cls(normalised, words, frozenset(words), numbers)


def similar_titles(a: str, b: str) -> bool:
    """Whether two *normalised* titles name the same story."""
    return _similar(_Title.of(a), _Title.of(b))


def _similar(a: _Title, b: _Title) -> bool:
    if min(len(a.text), len(b.text)) < MIN_FUZZY_CHARS:
        return False
    if a.text == b.text:
        return True
    if a.numbers != b.numbers:
        return False
    shared = len(a.vocabulary & b.vocabulary)
    if 2 * shared < SHARED_WORDS * (len(a.vocabulary) + len(b.vocabulary)):
        return False
    matcher = SequenceMatcher(None, a.text, b.text, autojunk=False)
    # The cheap upper bounds first: most pairs of different titles stop there.
    return (
        matcher.real_quick_ratio() >= SIMILARITY
        and matcher.quick_ratio() >= SIMILARITY
        and matcher.ratio() >= SIMILARITY
        and not _swaps_a_word(a.words, b.words)
    )


def _swaps_a_word(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether a word of `a` is replaced by a clearly different word in `b`."""
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag != "replace":
            continue
        old, new = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if SequenceMatcher(None, old, new, autojunk=False).ratio() < WORD_SIMILARITY:
            return True
    return False


def framed_cores(title: str) -> set[str]:
    """The normalised titles `title` frames: itself without up to three words set
    off by a separator at its start or end ("Opinion: X" -> {"x"})."""
    parts = _SEPARATOR.split(title[: MAX_TITLE_CHARS * 2])
    cores: set[str] = set()
    for k in range(1, len(parts)):
        for frame, core in ((parts[:k], parts[k:]), (parts[k:], parts[:k])):
            if sum(len(p.split()) for p in frame) <= MAX_FRAME_WORDS:
                text = normalise_title(" ".join(core))
                if len(text) >= MIN_FUZZY_CHARS:
                    cores.add(text)
    return cores


def same_story(a: Item, b: Item) -> bool:
    """Whether two items are copies of one story."""
    if a.key == b.key:
        return True
    if a.canonical_url and _url(a) == _url(b):
        return True
    norm_a, norm_b = normalise_title(a.title), normalise_title(b.title)
    if norm_a in framed_cores(b.title) or norm_b in framed_cores(a.title):
        return True
    return similar_titles(norm_a, norm_b)


def dedupe(items: Sequence[StoredItem], *, taken: Sequence[StoredItem] = ()) -> list[StoredItem]:
    """`items` with each story once, in input order.

    A story that copies one in `taken` (stories already in the edition, or sent)
    is dropped altogether: the copy already placed wins whatever its date.
    """
    pool = [*taken, *items]
    groups = _UnionFind(len(pool))
    _join_exact(pool, groups)
    _join_similar(pool, groups)
    members: dict[int, list[int]] = {}
    for i in range(len(pool)):
        members.setdefault(groups.find(i), []).append(i)
    keep: set[int] = set()
    for indices in members.values():
        if any(i < len(taken) for i in indices):
            continue
        keep.add(min(indices, key=lambda i: _preference(pool[i])))
    return [pool[i] for i in range(len(taken), len(pool)) if i in keep]


def story_time(stored: StoredItem) -> datetime:
    """When a story appeared: its published date, else when we first saw it."""
    return stored.item.published or stored.first_seen or _NEVER


def completeness(item: Item) -> int:
    return sum(
        1 for part in (item.lede, item.image_url, item.author, item.content, item.tags) if part
    )


def _preference(stored: StoredItem) -> tuple[datetime, int, str]:
    return story_time(stored), -completeness(stored.item), stored.key


def _url(item: Item) -> str:
    return item.canonical_url.rstrip("/")


def _join_exact(pool: Sequence[StoredItem], groups: _UnionFind) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, stored in enumerate(pool):
        item = stored.item
        title = normalise_title(item.title)
        tokens = [("key", item.key), ("url", _url(item))]
        if len(title) >= MIN_FUZZY_CHARS:
            tokens.append(("title", title))
        for token in tokens:
            if not token[1]:
                continue
            if token in seen:
                groups.union(seen[token], i)
            else:
                seen[token] = i
    # A framed title ("Opinion: X") joins the story whose whole title is its core.
    for i, stored in enumerate(pool):
        for core in framed_cores(stored.item.title):
            j = seen.get(("title", core))
            if j is not None:
                groups.union(i, j)


def _join_similar(pool: Sequence[StoredItem], groups: _UnionFind) -> None:
    titles = [_Title.of(normalise_title(s.item.title)) for s in pool]
    order = sorted(
        (i for i, t in enumerate(titles) if len(t.text) >= MIN_FUZZY_CHARS),
        key=lambda i: len(titles[i].text),
    )
    # real_quick_ratio = 2*short/(short+long) bounds the ratio, so only titles at
    # most this factor longer can reach SIMILARITY: a sliding window by length.
    reach = (2 - SIMILARITY) / SIMILARITY
    for n, i in enumerate(order):
        limit = len(titles[i].text) * reach
        for j in order[n + 1 :]:
            if len(titles[j].text) > limit:
                break
            if groups.find(i) != groups.find(j) and _similar(titles[i], titles[j]):
                groups.union(i, j)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
