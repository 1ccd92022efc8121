"""Lint the region rules when the config is loaded: warnings, never errors.

What it does: finds rules that can never match (a pattern empty after folding, a
keyword without a letter or digit, a url pattern that is not a path, a `not`
phrase that cancels its own rule or pattern whenever it matches) and rules that
another one shadows (the same tag, keyword or url pattern in an earlier region at
the same kind, so the later one never wins; a tag equal to another region's name
or alias). Each warning names the rule's place in the config and the pattern:
``regions[2].rules[0]: tag "NATO" is shadowed by regions[0].rules[1]``.

What it does not do: reject the config (the warnings are logged and shown; the
classifier simply never matches what cannot match) or judge whether a keyword is
a good one. A keyword that is contained as a whole word in an earlier region's
keyword ("Gaza" after "Gaza Strip") is fine: only identical patterns shadow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.classify import text as tx
from bot.classify.urls import url_pattern, url_problem
from bot.config import Config, RegionConfig, Rule

_FIELDS = ("title", "lede")


@dataclass(frozen=True)
class _Entry:
    region: int
    kind: str
    key: str
    text: str
    source: str
    fields: frozenset[str]
    conditional: bool  # the rule has `not` phrases: it does not always fire
    alias_of: str | None = None  # set for a region's name or alias


def lint_rules(config: Config) -> list[str]:
    """Warnings about the region rules, each naming the rule and the pattern."""
    warnings: list[str] = []
    for i, region in enumerate(config.regions):
        for j, rule in enumerate(region.rules):
            warnings.extend(_lint_rule(f"regions[{i}].rules[{j}]", rule))
    warnings.extend(_shadows(config))
    return warnings


# --- rules that can never match ------------------------------------------------


def _never_matches(kind: str, pattern: str) -> str | None:
    """Why a pattern of this kind can never match, or None."""
    if kind == "tag":
        return None if tx.tag_key(pattern) else "is empty after normalising"
    if kind == "url":
        return url_problem(pattern)
    if tx.keyword_parts(pattern) is not None:
        return None
    core = tx.fold(pattern).strip().strip("*").strip()
    if not core:
        return "is empty after normalising"
    if len(core) > tx.MAX_KEYWORD_CHARS:
        return f"is longer than {tx.MAX_KEYWORD_CHARS} characters"
    return "has no letter or digit"


def _lint_rule(ref: str, rule: Rule) -> list[str]:
    kind = rule.kind
    out = [
        f'{ref}: {kind} "{p}" {why}; it can never match'
        for p in rule.patterns
        if (why := _never_matches(kind, p)) is not None
    ]
    out.extend(
        f'{ref}: not "{e}" {why}; it has no effect'
        for e in rule.exclude
        if (why := _never_matches(kind, e)) is not None
    )
    live = [p for p in rule.patterns if _never_matches(kind, p) is None]
    killers = {p: _always_cancelled_by(kind, p, rule.exclude) for p in live}
    if live and all(killers.values()):
        phrases = ", ".join(f'"{e}"' for e in dict.fromkeys(k for k in killers.values() if k))
        out.append(f"{ref}: not {phrases} always cancels its own rule; the rule can never match")
        return out
    for pattern, killer in killers.items():
        if killer is None:
            continue
        if _same(kind, pattern, killer):
            out.append(f'{ref}: {kind} "{pattern}" is also in its own not list; it can never match')
        else:
            out.append(
                f'{ref}: {kind} "{pattern}" always contains not "{killer}"; it can never match'
            )
    return out


def _same(kind: str, a: str, b: str) -> bool:
    return _key(kind, a) == _key(kind, b)


def _always_cancelled_by(kind: str, pattern: str, exclude: tuple[str, ...]) -> str | None:
    """The first `not` phrase found in every text the pattern can match."""
    return next((p for p in exclude if _same(kind, pattern, p) or _inside(kind, p, pattern)), None)


def _inside(kind: str, phrase: str, pattern: str) -> bool:
    """Whether `phrase` matches within what `pattern` itself says."""
    if kind == "url":
        body = url_pattern(phrase)
        return body is not None and re.search(body, tx.fold(pattern).strip()) is not None
    if kind == "keyword":
        parsed, own = tx.keyword_parts(phrase), tx.keyword_parts(pattern)
        if not parsed or not own:
            return False
        literal = " ".join(own[0])
        # A stem runs on past its letters ("Gaza*": "Gazans"): the phrase must be
        # found whether or not it does.
        texts = [literal, literal + "zz"] if own[1] else [literal]
        return all(tx.contains_keyword(text, *parsed) for text in texts)
    return False


def _key(kind: str, pattern: str) -> str:
    if kind == "tag":
        return tx.tag_key(pattern)
    if kind == "url":
        return tx.fold(pattern).strip()
    parsed = tx.keyword_parts(pattern)
    if parsed is None:
        return ""
    return tx.keyword_key(parsed[0]) + ("*" if parsed[1] else "")


# --- shadowing ---------------------------------------------------------------------


def _entries(i: int, region: RegionConfig) -> list[_Entry]:
    everything = frozenset(_FIELDS)
    out = [
        _Entry(i, "tag", tx.tag_key(name), name, source, everything, False, region.name)
        for name, source in [
            (region.name, f"regions[{i}].name"),
            *((a, f"regions[{i}].aliases[{k}]") for k, a in enumerate(region.aliases)),
        ]
    ]
    for j, rule in enumerate(region.rules):
        fields = frozenset(rule.fields) if rule.kind == "keyword" else everything
        for pattern in rule.patterns:
            key = _key(rule.kind, pattern)
            if key and _never_matches(rule.kind, pattern) is None:
                source = f"regions[{i}].rules[{j}]"
                out.append(_Entry(i, rule.kind, key, pattern, source, fields, bool(rule.exclude)))
    return [e for e in out if e.key]


def _shadows(config: Config) -> list[str]:
    earlier: dict[tuple[str, str], list[_Entry]] = {}
    out: list[str] = []
    for i, region in enumerate(config.regions):
        entries = _entries(i, region)
        for entry in entries:
            winner = next(
                (
                    e
                    for e in earlier.get((entry.kind, entry.key), ())
                    if not e.conditional and e.fields >= entry.fields
                ),
                None,
            )
            if winner is not None:
                out.append(_shadow_message(entry, winner))
        for entry in entries:
            earlier.setdefault((entry.kind, entry.key), []).append(entry)
    return out


def _shadow_message(entry: _Entry, winner: _Entry) -> str:
    return f"{_describe(entry)} is shadowed by {winner.source}{_whose(winner)}"


def _describe(entry: _Entry) -> str:
    if entry.alias_of is None:
        return f'{entry.source}: {entry.kind} "{entry.text}"'
    if entry.source.endswith(".name"):
        return f'{entry.source}: the name "{entry.text}" (a tag out of the box)'
    return f'{entry.source}: the alias "{entry.text}" of "{entry.alias_of}"'


def _whose(winner: _Entry) -> str:
    if winner.alias_of is None:
        return ""
    if winner.source.endswith(".name"):
        return f' (the name of "{winner.alias_of}")'
    return f' (an alias of "{winner.alias_of}")'
