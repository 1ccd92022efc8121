"""Region classification: which section of the round-up each item goes to, and why.

What it does: compiles the region rules of the config once (`Classifier`), then
places each item with a pure function of the item and the rules
(`Classifier.classify`), explains that decision (`Classifier.explain`,
`format_explanation`), plans a re-classification of stored items that keeps the
editors' manual placements (`plan_reclassify`, `format_plan`), and lints the
rules when the config is loaded (`lint_rules`: warnings, never errors).

The rule kinds, each matched on its own fields of the item:

- tag: an item tag (feed category) equal to the pattern, ignoring case, accents,
  surrounding space and the difference between spaces, hyphens and underscores.
  A tag is also read in parts: the site's kicker "Analysis | Middle East" is split
  on "|", and a qualified place "Beijing (China)" gives "Beijing" and "China".
  Every region's name and aliases are tag rules out of the box.
- url: a path fragment such as "/middle-east/", found anywhere in the item URL's
  path, case-insensitively; "*" matches within one path segment.
- keyword: a whole word or phrase in the title or lede (`fields`), ignoring case
  and accents; "Iran" matches "Iran's" and "anti-Iran" but not "Tirana"; a
  trailing "*" makes a stem ("Syria*": "Syrian", "Syrians").
- feed: the feed's default region (`feeds[].region`).

Placement weighs the evidence (`bot.classify.scoring`). The best kind of rule
that matched decides first (`classify.precedence`, default tag > url > keyword >
feed: a site tag still decides); among the regions with a match of that kind,
the one with the most evidence wins. A match weighs by its kind, its field (the
title above the lede), how early in the title it is, its rule's `weight`, and
whether it only names the venue of a meeting ("talks in Geneva"); each distinct
term counts in full, a repeat a quarter. A rule's `not` phrases cancel that rule
for an item; a shared name's qualifiers (`classify.names`) cancel one match of
it ("Moscow" followed by "Idaho"); a match inside a longer one does not count
("Sudan" in "South Sudan"). An item that no rule matches goes to the fallback
section (`fallback.name`), never dropped.

For the editors' desk: `Classifier.classify` returns a `Classification` whose
`candidates` are the other regions with evidence, best first, and whose
`uncertain` is true when the runner-up's score is within `classify.near_tie` of
the winner's. `Classifier.explain` returns an `Explanation`: the same
classification, `scores` (one `RegionScore` per region with evidence: `region`,
`score`, best `kind`, the `hits` behind it, heaviest first, and their `terms`),
`uncertain`, and every `Hit` (`match`, `source` in the config, `weight`,
`venue`, and `cancelled_by` when it did not count). `bot.classify.evaluate`
measures the rules on a labelled set; `bot.classify.suggest` proposes rule
changes from editors' moves.

What it does not do: read or write the store, print, or call the network; the
CLI and the pipeline (`bot.pipeline`) do that with the values these return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import lazy

if TYPE_CHECKING:
    from bot.classify.classifier import Classifier, Explanation
    from bot.classify.lint import lint_rules
    from bot.classify.report import Move, format_explanation, format_plan, plan_reclassify
    from bot.classify.scoring import Hit, RegionScore

# What a parse worker imports before it is given a `batch.BatchClassifier` (the
# workers classify each feed they parse): that module, the config's models, and the
# classifier it compiles. Named here, where naming them imports none of them, so a
# poll can start the workers' fork server before its own start-up is done.
WORKER_PRELOAD = ("bot.classify.batch", "bot.config", "bot.classify.classifier")
# What a poll's fetch process imports before it is given its call: the call's
# classifier is a `batch.BatchClassifier`, which it only hands on to the workers.
FETCH_PRELOAD = ("bot.classify.batch",)

# Loaded on first use (`bot.lazy`): every command lints the rules, and only the
# ones that classify need the classifier.
_HOMES = {
    "Classifier": "classifier",
    "Explanation": "classifier",
    "Hit": "scoring",
    "Move": "report",
    "RegionScore": "scoring",
    "format_explanation": "report",
    "format_plan": "report",
    "lint_rules": "lint",
    "plan_reclassify": "report",
}

__all__ = [
    "FETCH_PRELOAD",
    "WORKER_PRELOAD",
    "Classifier",
    "Explanation",
    "Hit",
    "Move",
    "RegionScore",
    "format_explanation",
    "format_plan",
    "lint_rules",
    "plan_reclassify",
]

__getattr__ = lazy.exports(__name__, _HOMES)
