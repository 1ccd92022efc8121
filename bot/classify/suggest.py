"""Learn from editors' moves: rule changes that would have placed their stories.

What it does: `suggest` takes the stored stories, finds those an editor moved
(`region_manual`) to a section the current rules do not give them, and proposes
keyword changes that would have placed them there: add a name from the story
(a capitalised phrase of its title or lede that no rule reads yet) to the
editor's section, or take the term that pulled the story away out of the
other region. Each proposal is tried on every stored story with the
classifier's own weighing (`Classifier.explain_hits`) and reported with the
editors' moves it would agree with and how many other stored stories it would
move, with examples. `format_suggestions` prints them.

What it does not do: change the config or the store. An editor reads the
proposals and edits `config/feeds.yaml`; nothing changes on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.classify import scoring as sc
from bot.classify import text as tx
from bot.classify.classifier import Classifier
from bot.classify.report import safe
from bot.classify.scoring import Hit
from bot.types import RuleMatch, StoredItem

MAX_TERMS_PER_STORY = 6
MAX_SUGGESTIONS = 20
EXAMPLES = 3

# A run of capitalised words: a name of a place, a person, a group ("Africa
# Corps", "Port Moresby"), without a possessive.
_NAME = re.compile(r"\b[A-Z][\w.\-]*[\w](?:\s+[A-Z][\w.\-]*[\w])*")
# Capitalised because they start a headline, not because they are names.
_COMMON = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "after",
        "before",
        "but",
        "by",
        "for",
        "from",
        "how",
        "in",
        "into",
        "is",
        "it",
        "new",
        "of",
        "on",
        "or",
        "over",
        "the",
        "this",
        "these",
        "those",
        "to",
        "top",
        "two",
        "three",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
    ]
)


@dataclass(frozen=True)
class Suggestion:
    """One proposed rule change and what it would do to the stored stories."""

    action: str  # "add" or "remove"
    region: str
    keyword: str
    agrees: tuple[str, ...]  # editor-moved stories it would place where the editor did
    moves: int  # other stored stories whose region it would change
    examples: tuple[str, ...] = ()  # some of those, "key: old -> new"


@dataclass
class _Story:
    stored: StoredItem
    hits: list[Hit]
    region: str  # what the current rules give
    scores: list[sc.RegionScore]
    texts: dict[str, str]  # folded title and lede


def suggest(stored: Sequence[StoredItem], classifier: Classifier) -> list[Suggestion]:
    """Proposals that would place the editors' moved stories, best first."""
    stories = [_story(s, classifier) for s in stored]
    known = set(classifier.regions)
    disagreed = [
        s
        for s in stories
        if s.stored.region_manual and s.stored.region in known and s.region != s.stored.region
    ]
    tried: dict[tuple[str, str, str], Suggestion] = {}
    for story in disagreed:
        for action, region, keyword in _proposals(story):
            key = (action, region, tx.fold(keyword))
            if key not in tried:
                tried[key] = _try(action, region, keyword, stories, classifier)
    useful = [s for s in tried.values() if s.agrees]
    useful.sort(key=lambda s: (-len(s.agrees), s.moves, s.action, s.keyword))
    return useful[:MAX_SUGGESTIONS]


def disagreements(stored: Sequence[StoredItem], classifier: Classifier) -> int:
    """How many editor-moved stories the current rules would place elsewhere."""
    known = set(classifier.regions)
    return sum(
        1
        for s in stored
        if s.region_manual and s.region in known and classifier.classify(s.item).region != s.region
    )


def _story(stored: StoredItem, classifier: Classifier) -> _Story:
    hits = classifier.hits(stored.item)
    classification, scores = classifier.explain_hits(hits)
    texts = {
        "title": tx.fold(tx.clip(stored.item.title)),
        "lede": tx.fold(tx.clip(stored.item.lede)),
    }
    return _Story(stored, hits, classification.region, scores, texts)


def _proposals(story: _Story) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    wrong = next((s for s in story.scores if s.region == story.region), None)
    if wrong is not None:
        top = next((h for h in wrong.hits if h.match.kind == "keyword"), None)
        if top is not None:
            out.append(("remove", story.region, top.match.pattern))
    matched = {tx.fold(h.match.matched) for h in story.hits}
    for name in _names(story.stored.item.title, story.stored.item.lede):
        if tx.fold(name) not in matched and len(out) <= MAX_TERMS_PER_STORY:
            out.append(("add", story.stored.region, name))
    return out


def _names(*texts: str) -> list[str]:
    found: dict[str, str] = {}
    for text in texts:
        for m in _NAME.finditer(tx.clip(text)):
            words = m.group().split()
            while words and words[0].casefold() in _COMMON:
                words = words[1:]
            name = " ".join(words)
            if len(name) > 2 and tx.keyword_parts(name) is not None:
                found.setdefault(tx.fold(name), name)
    return list(found.values())


def _try(
    action: str, region: str, keyword: str, stories: Sequence[_Story], classifier: Classifier
) -> Suggestion:
    parsed = tx.keyword_parts(keyword)
    regex = tx.keyword_alternation([parsed]) if parsed else None
    agrees: list[str] = []
    moved: list[str] = []
    for story in stories:
        hits = _changed(action, region, keyword, regex, story)
        if hits is None:
            continue
        new = classifier.explain_hits(hits)[0].region
        if story.stored.region_manual:
            if new == story.stored.region and story.region != story.stored.region:
                agrees.append(story.stored.key)
        elif new != story.region:
            moved.append(f"{story.stored.key}: {story.region} -> {new}")
    return Suggestion(action, region, keyword, tuple(agrees), len(moved), tuple(moved[:EXAMPLES]))


def _changed(
    action: str, region: str, keyword: str, regex: re.Pattern[str] | None, story: _Story
) -> list[Hit] | None:
    """The story's matches after the change, or None when it does not touch them."""
    if action == "remove":
        kept = [
            h for h in story.hits if not (h.match.region == region and h.match.pattern == keyword)
        ]
        return kept if len(kept) != len(story.hits) else None
    if regex is None:
        return None
    extra: list[Hit] = []
    for field, text in story.texts.items():
        size = len(text) or 1
        for m in regex.finditer(text):
            venue = sc.is_venue(text, m.start(), m.end())
            weight = sc.weigh(
                "keyword",
                field,
                label=False,
                rule_weight=1.0,
                position=m.start() / size,
                venue=venue,
            )
            match = RuleMatch("keyword", region, keyword, field, m.group())
            extra.append(Hit(match, "suggested", None, weight, venue))
    return story.hits + extra if extra else None


def format_suggestions(suggestions: Sequence[Suggestion], disagreeing: int) -> str:
    if disagreeing == 0:
        return "Every story an editor moved is where the current rules would put it."
    lines = [f"{disagreeing} editor move(s) the current rules disagree with."]
    if not suggestions:
        lines.append("No single keyword change would place them; see --explain for each.")
    for i, s in enumerate(suggestions, 1):
        verb = (
            f"add keyword {safe(_q(s.keyword))} to"
            if s.action == "add"
            else (f"remove keyword {safe(_q(s.keyword))} from")
        )
        agrees = ", ".join(safe(k) for k in s.agrees[:EXAMPLES])
        lines.append(
            f"{i}. {verb} {safe(s.region)}: places {len(s.agrees)} moved story(ies) where "
            f"editors put them ({agrees}); moves {s.moves} other stored story(ies)"
        )
        lines.extend(f"     e.g. {safe(e)}" for e in s.examples)
    lines.append("Nothing was changed: edit the config to apply one, then check it with --dry-run.")
    return "\n".join(lines)


def _q(text: str) -> str:
    return f'"{text}"'
