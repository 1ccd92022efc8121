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

Precedence: by default (`classify.precedence`) tag rules beat url rules beat
keyword rules beat the feed default. Each region's best match is the first kind
in that order that matches it; the region whose best kind comes first wins, and
between regions whose best is the same kind, the one listed first in the config
wins. The other regions that matched are kept as `candidates`, best first, so
the editor sees "also: Europe". A rule's `not` phrases cancel that rule for an
item when any of them is found in the fields the rule reads. An item that no
rule matches goes to the fallback section (`fallback.name`), never dropped.

What it does not do: read or write the store, print, or call the network; the
CLI and the pipeline (`bot.pipeline`) do that with the values these return.
"""

from __future__ import annotations

from bot.classify.classifier import Classifier, Explanation
from bot.classify.lint import lint_rules
from bot.classify.report import Move, format_explanation, format_plan, plan_reclassify
from bot.classify.scoring import Hit, RegionScore

__all__ = [
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
