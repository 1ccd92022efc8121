"""Measure the region rules on a labelled set of stories (`roundup classify --evaluate`).

What it does: reads a labelled file (`load_labelled`: CSV with a header row, or
JSON, a list of objects or ``{"items": [...]}``; fields `title`, `lede`, `tags`
(a list, or one string split on ";"), `url`, `expected` (or `expected_region`,
`region`), and optionally `id`, `hard` and `split`), classifies every story
(`evaluate`), and reports (`format_evaluation`): accuracy overall, per expected
region, for stories the site tagged with a region, for keyword-only stories,
for the hard cases and per split; a confusion matrix; and every miss with the
classifier's explanation. A bad row (no title, an unknown region) is reported
on one line with its place in the file and left out; the rest are measured.

What it does not do: read the store or change any rule.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.classify.classifier import Classifier, Explanation
from bot.classify.report import format_explanation, safe
from bot.errors import UsageError
from bot.types import Item

MAX_FILE_BYTES = 20_000_000
MAX_ROWS = 100_000
_EXPECTED = ("expected", "expected_region", "region")
_TRUE = {"1", "true", "yes", "y", "hard"}


@dataclass(frozen=True)
class Labelled:
    """One story of a labelled set and the section it belongs in."""

    item: Item
    expected: str
    hard: bool = False
    split: str = ""
    where: str = ""  # "row 12" / "item 12": its place in the file


@dataclass(frozen=True)
class Outcome:
    case: Labelled
    explanation: Explanation

    @property
    def got(self) -> str:
        return self.explanation.classification.region

    @property
    def right(self) -> bool:
        return self.got == self.case.expected


@dataclass(frozen=True)
class Evaluation:
    outcomes: tuple[Outcome, ...]
    regions: tuple[str, ...]
    problems: tuple[str, ...] = ()
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return _share(self.outcomes)

    @property
    def misses(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.right)

    def per_region(self) -> dict[str, tuple[int, int]]:
        """(right, total) per expected region, in config order."""
        return {r: _count(o for o in self.outcomes if o.case.expected == r) for r in self.regions}

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((o.case.expected, o.got) for o in self.outcomes)


def _count(outcomes: Iterable[Outcome]) -> tuple[int, int]:
    listed = list(outcomes)
    return sum(o.right for o in listed), len(listed)


def _share(outcomes: Sequence[Outcome]) -> float:
    right, total = _count(outcomes)
    return right / total if total else 0.0


# --- reading -------------------------------------------------------------------


def load_labelled(path: Path, regions: Sequence[str]) -> tuple[list[Labelled], list[str]]:
    """The stories of a labelled file, and one line per row left out."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES} bytes; split it")
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = _json_rows(path, text) if _is_json(path, text) else _csv_rows(path, text)
    cases: list[Labelled] = []
    problems: list[str] = []
    known = {r.casefold(): r for r in regions}
    for where, row in rows:
        case = _case(where, row, known)
        if isinstance(case, str):
            problems.append(f"{path}: {where}: {case}")
        else:
            cases.append(case)
    return cases, problems


def _is_json(path: Path, text: str) -> bool:
    return path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{")


def _json_rows(path: Path, text: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict):
        data = data.get("items")
    if not isinstance(data, list):
        raise UsageError(f'{path}: expected a list of stories, or {{"items": [...]}}')
    return [(f"item {i + 1}", row) for i, row in enumerate(data[:MAX_ROWS])]


def _csv_rows(path: Path, text: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    names = {n.strip().casefold() for n in reader.fieldnames or ()}
    if "title" not in names or not names & set(_EXPECTED):
        raise UsageError(
            f"{path}: a CSV needs a header row with title and expected "
            "(and optionally lede, tags, url, hard, split)"
        )
    rows: list[tuple[str, Any]] = []
    for i, row in enumerate(reader):
        if i >= MAX_ROWS:
            break
        clean = {(k or "").strip().casefold(): v for k, v in row.items()}
        rows.append((f"line {reader.line_num}", clean))
    return rows


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return value.strip() if isinstance(value, str) else ""


def _case(where: str, row: Any, known: dict[str, str]) -> Labelled | str:
    if not isinstance(row, dict):
        return "not an object with title and expected"
    title = _text(row, "title")
    if not title:
        return "no title"
    label = next((_text(row, k) for k in _EXPECTED if _text(row, k)), "")
    if not label:
        return "no expected region"
    expected = known.get(label.casefold())
    if expected is None:
        sections = ", ".join(known.values())
        return f"expected region {safe(label)!r} is not a section (sections: {sections})"
    raw_tags = row.get("tags")
    if isinstance(raw_tags, str):
        tags = tuple(t.strip() for t in raw_tags.split(";") if t.strip())
    elif isinstance(raw_tags, list):
        tags = tuple(t for t in raw_tags if isinstance(t, str))
    else:
        tags = ()
    key = _text(row, "id") or _text(row, "key") or where
    url = _text(row, "url")
    hard = row.get("hard")
    item = Item(key, "labelled", url, url, title, _text(row, "lede"), tags=tags)
    is_hard = hard is True or (isinstance(hard, str) and hard.strip().casefold() in _TRUE)
    return Labelled(item, expected, is_hard, _text(row, "split"), where)


# --- measuring -------------------------------------------------------------------


def evaluate(
    cases: Sequence[Labelled], classifier: Classifier, problems: Sequence[str] = ()
) -> Evaluation:
    outcomes = tuple(Outcome(c, classifier.explain(c.item)) for c in cases)
    groups: dict[str, tuple[int, int]] = {}
    tagged = [o for o in outcomes if any(h.match.kind == "tag" for h in o.explanation.hits)]
    untagged = [o for o in outcomes if o not in tagged]
    groups["region-tagged"] = _count(tagged)
    groups["keyword-only"] = _count(untagged)
    groups["hard cases"] = _count(o for o in outcomes if o.case.hard)
    for split in sorted({c.split for c in cases if c.split}):
        groups[f"split {split}"] = _count(o for o in outcomes if o.case.split == split)
    return Evaluation(outcomes, classifier.regions, tuple(problems), groups)


def _pct(right: int, total: int) -> str:
    return f"{100 * right / total:5.1f}% ({right}/{total})" if total else "    - (0)"


def format_evaluation(ev: Evaluation, *, misses: bool = True) -> str:
    right, total = _count(ev.outcomes)
    lines = [f"accuracy: {_pct(right, total)}"]
    lines += [f"  {name:<16}{_pct(*counts)}" for name, counts in ev.groups.items()]
    lines.append("per region (stories labelled with it that landed there):")
    width = max(len(r) for r in ev.regions)
    lines += [f"  {safe(r):<{width}}  {_pct(*c)}" for r, c in ev.per_region().items()]
    lines += _matrix(ev, width)
    for problem in ev.problems:
        lines.append(f"left out: {problem}")
    if misses and ev.misses:
        lines.append(f"misses ({len(ev.misses)}):")
        for o in ev.misses:
            lines.append(f"- {safe(o.case.where)}: expected {o.case.expected}, got {o.got}")
            text = format_explanation(o.case.item, o.explanation)
            lines.extend("    " + line for line in text.splitlines())
    return "\n".join(lines)


def _matrix(ev: Evaluation, width: int) -> list[str]:
    matrix = ev.confusion()
    heads = [_initials(r) for r in ev.regions]
    lines = ["confusion (rows: expected, columns: placed in):"]
    lines.append(" " * (width + 2) + "".join(f"{h:>6}" for h in heads))
    for r in ev.regions:
        cells = "".join(f"{matrix.get((r, c), 0) or '.':>6}" for c in ev.regions)
        lines.append(f"  {safe(r):<{width}}{cells}")
    legend = ", ".join(f"{h} {r}" for h, r in zip(heads, ev.regions, strict=True))
    lines.append(f"  ({legend})")
    return lines


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w]
    return "".join(w[0] for w in words).upper()[:4] if len(words) > 1 else name[:4]
