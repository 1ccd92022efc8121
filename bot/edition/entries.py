"""An edition's stories: pure decisions on tuples of `EditionEntry`.

Order inside a section: pinned stories first, then the rest; within each block the
entry's `position`, which starts newest first and then follows the editor. After
every change positions are renumbered 0, 1, 2... per section (`canonical`).

- `merge_entries` adds new stories to an existing draft and keeps every editor
  decision (order, pins, exclusions, moves, edited text). A new story slots in
  above the first unpinned story that is older than it, so an untouched section
  stays newest first and an editor's order is never shuffled. A story that was
  re-classified since moves to its new section unless an editor had moved it.
- `select_entries` applies the caps. Excluded stories stay in the edition (so a
  refresh does not bring them back) and count for nothing. Stories an editor
  decided on (pinned, moved, reordered, headline or lede edited) are always kept
  and count against the caps; the other stories, the draft's own proposal, fill
  what is left in section order, so newer stories can displace older untouched
  ones at a refresh. The
  total cap is shared fairly: rank by rank, round-robin over the sections in the
  configured order (each section's first story, then each one's second...), so
  one busy region cannot crowd out the others and the fallback section yields
  first on a tie.
- The edit functions (`reorder_entry`, `set_flag`, `move_entry`, `set_text`)
  return the new entries and a detail dict for the audit log, or None when the
  change would change nothing.

Nothing here reads the store or the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bot.errors import NotFoundError, UsageError
from bot.types import EditionEntry

Detail = dict[str, object]
Flag = Literal["pinned", "excluded"]
TextField = Literal["headline", "lede"]


@dataclass(frozen=True)
class Candidate:
    """A story in a draft's window: its section and when it appeared."""

    item_key: str
    region: str
    at: datetime


def decided(entry: EditionEntry) -> bool:
    """Whether an editor chose something about this story (caps keep it)."""
    return entry.pinned or entry.moved or entry.headline is not None or entry.lede is not None


def sections(entries: Iterable[EditionEntry]) -> dict[str, list[EditionEntry]]:
    """Entries by section (first appearance order), each pinned first, then by position."""
    out: dict[str, list[EditionEntry]] = {}
    for entry in entries:
        out.setdefault(entry.region, []).append(entry)
    for region, members in out.items():
        out[region] = sorted(members, key=lambda e: (not e.pinned, e.position))
    return out


def canonical(entries: Iterable[EditionEntry]) -> tuple[EditionEntry, ...]:
    """Entries grouped by section, pinned first, positions renumbered from 0."""
    return _flatten(sections(entries))


def _flatten(by_region: Mapping[str, Sequence[EditionEntry]]) -> tuple[EditionEntry, ...]:
    out: list[EditionEntry] = []
    for region, members in by_region.items():
        out.extend(
            e if e.position == i and e.region == region else replace(e, region=region, position=i)
            for i, e in enumerate(members)
        )
    return tuple(out)


def find(entries: Iterable[EditionEntry], item_key: str) -> EditionEntry:
    for entry in entries:
        if entry.item_key == item_key:
            return entry
    raise NotFoundError(f"story {item_key!r} is not in this edition")


# --- refresh: merge and caps ------------------------------------------------


def merge_entries(
    existing: Sequence[EditionEntry], candidates: Sequence[Candidate]
) -> tuple[EditionEntry, ...]:
    """`existing` with the stories of `candidates` it lacks added (see module doc).

    `candidates` may include stories already in `existing`: their `at` places new
    stories around them and their `region` follows a re-classification.
    """
    info: dict[str, Candidate] = {}
    for c in candidates:
        info.setdefault(c.item_key, c)
    by_region: dict[str, list[EditionEntry]] = {}
    arriving: list[EditionEntry] = []
    for entry in canonical(existing):
        now_in = info.get(entry.item_key)
        if now_in is not None and not entry.moved and now_in.region != entry.region:
            arriving.append(replace(entry, region=now_in.region))
        else:
            by_region.setdefault(entry.region, []).append(entry)
    present = {e.item_key for e in existing}
    arriving.extend(
        EditionEntry(item_key=c.item_key, region=c.region, position=0)
        for c in info.values()
        if c.item_key not in present
    )
    arriving.sort(key=lambda e: (-info[e.item_key].at.timestamp(), e.item_key))
    for entry in arriving:
        section = by_region.setdefault(entry.region, [])
        section.insert(_slot(section, entry, info), entry)
    return _flatten(by_region)


def _slot(
    section: Sequence[EditionEntry], entry: EditionEntry, info: Mapping[str, Candidate]
) -> int:
    pinned = sum(1 for e in section if e.pinned)
    if entry.pinned:
        return pinned
    at = info[entry.item_key].at
    for i in range(pinned, len(section)):
        other = info.get(section[i].item_key)
        if other is not None and other.at < at:
            return i
    return len(section)


def select_entries(
    entries: Sequence[EditionEntry],
    *,
    per_region: int,
    total: int,
    regions: Sequence[str],
    reordered: Collection[str] = frozenset(),
) -> tuple[EditionEntry, ...]:
    """The entries the caps keep, sections in the order of `regions` (see module doc).

    `reordered` names the stories an editor reordered (the entry itself cannot say).
    """

    def chosen(entry: EditionEntry) -> bool:
        return decided(entry) or entry.item_key in reordered

    by_region = sections(entries)
    order = [r for r in regions if r in by_region] + [r for r in by_region if r not in regions]
    ranked = {r: _within_region(by_region[r], per_region, chosen) for r in order}
    budget = total - sum(1 for r in order for e in ranked[r] if chosen(e))
    taken: set[str] = set()
    for rank in range(max((len(v) for v in ranked.values()), default=0)):
        for region in order:
            if rank < len(ranked[region]) and budget > 0:
                entry = ranked[region][rank]
                if not chosen(entry):
                    taken.add(entry.item_key)
                    budget -= 1
    return _flatten(
        {
            r: [e for e in by_region[r] if e.excluded or chosen(e) or e.item_key in taken]
            for r in order
        }
    )


def _within_region(
    section: Sequence[EditionEntry], per_region: int, chosen: Callable[[EditionEntry], bool]
) -> list[EditionEntry]:
    """The section's included stories the per-region cap keeps, in order."""
    shown = [e for e in section if not e.excluded]
    slots = per_region - sum(1 for e in shown if chosen(e))
    kept: list[EditionEntry] = []
    for entry in shown:
        if chosen(entry):
            kept.append(entry)
        elif slots > 0:
            kept.append(entry)
            slots -= 1
    return kept


# --- editor changes ---------------------------------------------------------


def reorder_entry(
    entries: Sequence[EditionEntry], item_key: str, position: int
) -> tuple[tuple[EditionEntry, ...], Detail | None]:
    """Move a story to `position` in its section.

    A pinned story stays among the pinned ones and an unpinned one below them, so
    the position is clamped to its block; past the end means last.
    """
    if position < 0:
        raise UsageError(f"position {position} is negative: positions count from 0 (the top)")
    entry = find(entries, item_key)
    by_region = sections(entries)
    section = by_region[entry.region]
    pinned = sum(1 for e in section if e.pinned)
    low, high = (0, pinned - 1) if entry.pinned else (pinned, len(section) - 1)
    old = section.index(entry)
    new = min(max(position, low), high)
    if new == old:
        return canonical(entries), None
    section.remove(entry)
    section.insert(new, entry)
    detail: Detail = {"item": item_key, "region": entry.region, "from": old, "to": new}
    return _flatten(by_region), detail


def set_flag(
    entries: Sequence[EditionEntry], item_key: str, flag: Flag, value: bool
) -> tuple[tuple[EditionEntry, ...], Detail | None]:
    """Pin/unpin or exclude/include a story (`flag` is "pinned" or "excluded")."""
    entry = find(entries, item_key)
    if getattr(entry, flag) == value:
        return canonical(entries), None
    changed = replace(entry, pinned=value) if flag == "pinned" else replace(entry, excluded=value)
    # A pinned story joins the end of the pinned block and an unpinned one the top of
    # the rest: `canonical` sorts pinned first and keeps order within each block.
    out = canonical(changed if e is entry else e for e in entries)
    return out, {"item": item_key, "region": entry.region}


def move_entry(
    entries: Sequence[EditionEntry], item_key: str, region: str
) -> tuple[tuple[EditionEntry, ...], Detail | None]:
    """Put a story in another section, at the end (of the pinned block if pinned)."""
    entry = find(entries, item_key)
    if entry.region == region:
        return canonical(entries), None
    last = max((e.position for e in entries if e.region == region), default=-1)
    moved = replace(entry, region=region, position=last + 1, moved=True)
    out = canonical([*(e for e in entries if e is not entry), moved])
    return out, {"item": item_key, "from": entry.region, "to": region}


def set_text(
    entries: Sequence[EditionEntry], item_key: str, field: TextField, value: str | None
) -> tuple[tuple[EditionEntry, ...], Detail | None]:
    """Override a story's headline or lede; None clears the override."""
    entry = find(entries, item_key)
    old = getattr(entry, field)
    if old == value:
        return canonical(entries), None
    changed = replace(entry, headline=value) if field == "headline" else replace(entry, lede=value)
    out = canonical(changed if e is entry else e for e in entries)
    return out, {"item": item_key, "from": old, "to": value}


def clean_text(value: str | None, *, what: str, limit: int, one_line: bool) -> str:
    """Editor text from a form: trimmed, bounded, one line where it must be.

    A subject or headline goes into an email header or a single line, so any line
    break in it becomes a space (no header injection); Markdown keeps its lines.
    """
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = " ".join(text.split()) if one_line else text.strip()
    if len(text) > limit:
        raise UsageError(f"the {what} is {len(text)} characters long; at most {limit} are allowed")
    return text
