"""Shared names: a place name that is also another place, a person or a thing.

What it does: reads `classify.names` once (each name's qualifiers are compiled
the first time a match of that name is checked) and answers, for one keyword match
in a folded text, whether a qualifier of its name says the match is not the place
(`SharedNames.veto`): "Moscow" followed by "Idaho", "Sudan" after "South",
"Georgia" in a story that names Atlanta. The qualifiers are written once in the
config and apply to every region's keyword rules, so a shared name is not
qualified again in each region that lists it.

What it does not do: decide regions or weigh evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from bot.classify import text as tx
from bot.config import SharedName

# Between a name and the words that qualify it: spaces and light punctuation
# ("Moscow, Idaho", "Athens (Georgia)", "Guinea-Bissau").
_GAP = r"[\s,.;:()'\"\-]*"


@dataclass(frozen=True)
class _Qualifier:
    """One shared name's qualifiers, each compiled on first use: a name's
    qualifiers are read only when the name matches."""

    name: str
    source: str
    not_before: tuple[str, ...]
    not_after: tuple[str, ...]
    not_with: tuple[str, ...]

    @cached_property
    def before(self) -> tx.KeywordRegex | None:
        """Words right after the name."""
        return _regex(self.not_before, lambda body: _GAP + "(?:" + body + ")")

    @cached_property
    def after(self) -> tx.KeywordRegex | None:
        """Words right before the name."""
        return _regex(self.not_after, lambda body: "(?:" + body + ")" + _GAP + "$")

    @cached_property
    def context(self) -> tx.KeywordRegex | None:
        """Words anywhere in the story."""
        return _regex(self.not_with, lambda body: body)


def _regex(phrases: tuple[str, ...], wrap: Callable[[str], str]) -> tx.KeywordRegex | None:
    """The phrases' `text.keyword_pattern`, put in context by `wrap`."""
    keywords = [k for k in map(tx.keyword_parts, phrases) if k is not None]
    if not keywords:
        return None
    return tx.KeywordRegex(lambda word: wrap(tx.keyword_pattern(keywords, word)))


def _compile(index: int, shared: SharedName) -> _Qualifier:
    source = f"classify.names[{index}]"
    return _Qualifier(shared.name, source, shared.not_before, shared.not_after, shared.not_with)


Qualifiers = tuple[_Qualifier, ...]


class SharedNames:
    """The qualifiers of `classify.names`, looked up by a match's words."""

    def __init__(self, names: tuple[SharedName, ...]) -> None:
        self._literal: dict[str, list[_Qualifier]] = {}
        self._stems: list[tuple[str, _Qualifier]] = []
        for i, shared in enumerate(names):
            parsed = tx.keyword_parts(shared.name)
            if parsed is None:
                continue
            parts, stem = parsed
            qualifier = _compile(i, shared)
            key = tx.keyword_key(parts)
            if stem:
                self._stems.append((key, qualifier))
            else:
                self._literal.setdefault(key, []).append(qualifier)

    def __bool__(self) -> bool:
        return bool(self._literal or self._stems)

    def veto(self, text: str, start: int, end: int, story: tuple[str, ...]) -> str | None:
        """Why the match `text[start:end]` (folded) is not the place, or None.

        `story` holds the folded fields a `not_with` phrase is looked for in."""
        return self.check(self.qualifiers(tx.hit_key(text[start:end])), text, start, end, story)

    def qualifiers(self, key: str) -> Qualifiers:
        """The qualifiers of a match whose words are `key` (`text.hit_key`): the
        same for every match of those words, so a caller may keep them."""
        found = self._literal.get(key, [])
        if self._stems:
            found = found + [q for prefix, q in self._stems if key.startswith(prefix)]
        return tuple(found)

    @staticmethod
    def check(
        found: Qualifiers, text: str, start: int, end: int, story: tuple[str, ...]
    ) -> str | None:
        """`veto` with the match's qualifiers already looked up."""
        for q in found:
            if q.before is not None and (m := q.before.on(text).match(text, end)):
                return f'{q.source}: "{q.name}" followed by "{m.group().strip(_STRIP)}"'
            after = q.after
            if after is not None and (m := after.on(text).search(text, max(0, start - 80), start)):
                return f'{q.source}: "{q.name}" after "{m.group().strip(_STRIP)}"'
            if q.context is not None:
                for field in story:
                    if m := q.context.on(field).search(field):
                        return f'{q.source}: "{q.name}" with "{m.group()}" in the story'
        return None


_STRIP = " ,.;:()'\"-"
