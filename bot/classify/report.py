"""Re-classification plans and the human text of `roundup classify`.

What it does: `plan_reclassify` compares stored items' regions with what the
current rules say and returns the moves, keeping every item an editor placed by
hand; `format_plan` prints such a plan per region (`--dry-run`);
`format_explanation` prints why an item is where it is (`--explain ITEM_KEY`).
Item text is made safe to print (control characters and lone surrogates
replaced, long titles cut).

What it does not do: write anything (the pipeline applies the moves to the
store) or decide regions itself (that is the `Classifier`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.classify.classifier import Classifier, Explanation
from bot.classify.scoring import Hit, RegionScore
from bot.types import Classification, Item, RuleMatch, StoredItem

TITLE_CHARS = 90


@dataclass(frozen=True)
class Move:
    """One stored item that the current rules would place in another region."""

    key: str
    title: str
    old: str
    new: str
    classification: Classification


def plan_reclassify(items: Iterable[StoredItem], classifier: Classifier) -> list[Move]:
    """The moves re-classifying `items` would make; editors' placements are kept."""
    moves: list[Move] = []
    for stored in items:
        if stored.region_manual:
            continue
        classification = classifier.classify(stored.item)
        if classification.region != stored.region:
            moves.append(
                Move(
                    stored.key,
                    stored.item.title,
                    stored.region,
                    classification.region,
                    classification,
                )
            )
    return moves


def format_plan(moves: Sequence[Move], regions: Sequence[str]) -> str:
    """Per region, how many items would move in and out, and which."""
    if not moves:
        return "No item would move: every stored region matches the current rules."
    names = list(dict.fromkeys([*regions, *(m.old for m in moves), *(m.new for m in moves)]))
    lines = [f"{len(moves)} item(s) would move."]
    for name in names:
        incoming = [m for m in moves if m.new == name]
        outgoing = [m for m in moves if m.old == name]
        gone = "" if name in regions else " (no longer a configured region)"
        if not incoming and not outgoing:
            lines.append(f"{safe(name)}: no change")
            continue
        lines.append(f"{safe(name)}{gone}: {len(incoming)} in, {len(outgoing)} out")
        lines.extend(
            f"  + {safe(m.key)}  {_title(m.title)}  (from {safe(m.old)})" for m in incoming
        )
        lines.extend(f"  - {safe(m.key)}  {_title(m.title)}  (to {safe(m.new)})" for m in outgoing)
    return "\n".join(lines)


def format_explanation(item: Item, explanation: Explanation) -> str:
    """Which rule placed the item, every region's score and terms, and every
    match, counted or not."""
    c = explanation.classification
    lines = [
        f"item:       {safe(item.key)}",
        f"title:      {_title(item.title)}",
        f"feed:       {safe(item.feed)}",
        f"region:     {safe(c.region)}",
    ]
    if c.rule is None:
        lines.append("decided by: no rule matched; the item goes to the fallback section")
    else:
        source = _source_of(c.rule, explanation.hits)
        lines.append(f"decided by: {_describe(c.rule, source)}")
    if c.candidates:
        lines.append(f"also:       {', '.join(safe(r) for r in c.candidates)}")
    if c.uncertain and len(explanation.scores) > 1:
        first, second = explanation.scores[:2]
        lines.append(
            f"uncertain:  {safe(second.region)} ({second.score:.2f}) is within "
            f"{explanation.near_tie:.0%} of {safe(first.region)} ({first.score:.2f}); "
            "an editor should look"
        )
    order = " > ".join(explanation.precedence)
    lines.append(f"precedence: {order}, then the evidence (a tie: the first region listed)")
    if explanation.scores:
        lines.append("scores:")
        width = max(len(safe(s.region)) for s in explanation.scores)
        lines.extend(_score_line(s, width) for s in explanation.scores)
    matches = [h for h in explanation.hits if h.cancelled_by is None]
    if matches:
        lines.append("matches, best first:")
        lines.extend(f"  {safe(h.match.region)}: {_weighed(h)}" for h in matches)
    cancelled = explanation.cancelled
    if cancelled:
        lines.append("not counted (a `not` phrase, a shared name, or inside a longer match):")
        for h in cancelled:
            why = safe(h.cancelled_by or "")
            lines.append(f"  {safe(h.match.region)}: {_describe(h.match, h.source)}; not: {why}")
    return "\n".join(lines)


def _score_line(score: RegionScore, width: int) -> str:
    """One region's score, its best kind and its terms with what each weighed."""
    weights: dict[str, list[Hit]] = {}
    for h in score.hits:
        weights.setdefault(h.match.pattern, []).append(h)
    terms = ", ".join(
        f"{safe(_quote(pattern))} {hits[0].weight:.2f}"
        + (f" x{len(hits)}" if len(hits) > 1 else "")
        + (" (venue)" if all(h.venue for h in hits) else "")
        for pattern, hits in weights.items()
    )
    return f"  {safe(score.region):<{width}}  {score.score:6.2f}  {score.kind:<7}  {terms}"


def _weighed(hit: Hit) -> str:
    venue = ", a venue" if hit.venue else ""
    return f"{_describe(hit.match, hit.source)} (weight {hit.weight:.2f}{venue})"


def _source_of(rule: RuleMatch, hits: Sequence[Hit]) -> str | None:
    return next((h.source for h in hits if h.match == rule), None)


def _describe(match: RuleMatch, source: str | None) -> str:
    where = {
        "tags": "in the tags",
        "url": "in the url path",
        "title": "in the title",
        "lede": "in the lede",
        "feed": "the feed's default region",
    }.get(match.field, f"in {match.field}")
    rule = f"{match.kind} rule {safe(_quote(match.pattern))}"
    if source:
        rule += f" ({source})"
    if match.kind == "feed":
        return f"{rule}: {where}"
    return f"{rule} {where}: {safe(_quote(match.matched))}"


def _quote(text: str) -> str:
    return f'"{text}"'


def _title(title: str) -> str:
    return safe(_quote(title), TITLE_CHARS + 2)


# Bidirectional overrides and isolates: they can make a terminal line read
# backwards, so an item's text could disguise what surrounds it.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs")


def safe(text: str, limit: int = 200) -> str:
    """`text` fit for a terminal: no control characters, no lone surrogates, cut."""
    cleaned = "".join(
        " " if ch in "\t\n\r" else "\ufffd" if _unsafe(ch) else ch for ch in text[: limit + 1]
    )
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
