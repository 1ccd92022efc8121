"""Drafting an edition from the stored stories, and loading editions.

`draft` creates the edition of a week, or refreshes it while it is a draft: it
computes the window (`weeks.edition_window`), leaves out what a sent (or sending)
edition carried, takes each story once (`dedupe`), merges new stories into the
editor's draft and applies the caps (`entries`), then saves the edition and an
audit entry. It never reads the clock (`now` is passed in) and does not render:
`edition_items` hands the renderer the stories it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.clock import ensure_utc
from bot.config import Config
from bot.edition.dedupe import dedupe, story_time
from bot.edition.entries import Candidate, Detail, clean_text, merge_entries, select_entries
from bot.edition.states import DRAFT, SENDING, SENT, Action, transition
from bot.edition.weeks import FIRST_EDITION_SPAN, edition_window, normalise_key, week_key
from bot.errors import NotFoundError, UsageError
from bot.store import Store
from bot.types import AuditEntry, Edition, EditionEntry, StoredItem

# A flood of stories in one week must not decide how much work a draft does.
MAX_WINDOW_STORIES = 1000
MAX_NAME = 100


def load(store: Store, key: str) -> Edition:
    """The edition `key`, or NotFoundError saying how to create it."""
    key = normalise_key(key)
    edition = store.get_edition(key)
    if edition is None:
        raise NotFoundError(f"no edition {key}; create it with `roundup draft --week {key}`")
    return edition


def edition_items(store: Store, edition: Edition) -> dict[str, StoredItem]:
    """The stored stories of an edition's entries, by key (missing ones left out)."""
    found = (store.get_item(entry.item_key) for entry in edition.entries)
    return {stored.key: stored for stored in found if stored is not None}


def actor_name(name: str) -> str:
    text = clean_text(name, what="name", limit=MAX_NAME, one_line=True)
    if not text:
        raise UsageError("say who makes the change (a user name)")
    return text


def included(edition: Edition) -> tuple[EditionEntry, ...]:
    """The entries that will be sent (not excluded)."""
    return tuple(x for x in edition.entries if not x.excluded)


# --- drafting ---------------------------------------------------------------


def draft(
    store: Store, config: Config, now: datetime, *, week: str | None = None, actor: str = "roundup"
) -> Edition:
    """Create the edition of `week` (default: the week of `now`) or refresh its draft.

    A refresh recomputes the window, adds the stories that arrived, drops stories
    another edition has sent since, and keeps every editor decision. An edition
    past draft is not touched (EditionError).
    """
    now, actor = ensure_utc(now), actor_name(actor)
    tz = config.newsletter.timezone
    key = normalise_key(week) if week else week_key(now, tz)
    existing = store.get_edition(key)
    if existing is not None:
        transition(existing.state, Action.REFRESH, key)
    cutoff, gone = _sent_so_far(store, key)
    start, end = edition_window(now, cutoff, tz)
    before = existing.entries if existing else ()
    kept, candidates = _stories(store, config, before, gone, start, end)
    caps = config.newsletter.caps
    entries = select_entries(
        merge_entries(kept, candidates),
        per_region=caps.per_region,
        total=caps.total,
        regions=config.region_names,
        reordered=_reordered(store, key) if existing else frozenset(),
    )
    if existing is None:
        edition = Edition(key, DRAFT, start, end, entries=entries, created_at=now, updated_at=now)
    else:
        edition = replace(
            existing, window_start=start, window_end=end, entries=entries, updated_at=now
        )
    # A refresh must not overwrite an editor's save made while it ran.
    saved = store.save_edition(
        edition, expected_version=existing.version if existing is not None else None
    )
    edition = replace(edition, version=saved)
    action = "refresh" if existing else "create"
    detail = _draft_detail(before, edition)
    store.append_audit(AuditEntry(key, now, actor, action, detail, version=saved))
    return edition


def _sent_so_far(store: Store, key: str) -> tuple[datetime | None, set[str]]:
    """The last cut-off of a sent edition, and the keys of every story sent.

    A send in progress counts as sent: its stories are going out.
    """
    carried = [e for e in store.list_editions(states=[SENDING, SENT]) if e.key != key]
    cutoff = max((e.window_end for e in carried), default=None)
    gone = store.sent_item_keys() | {
        x.item_key for e in carried if e.state is SENDING for x in e.entries if not x.excluded
    }
    return cutoff, gone


def _stories(
    store: Store,
    config: Config,
    before: Sequence[EditionEntry],
    gone: set[str],
    start: datetime,
    end: datetime,
) -> tuple[list[EditionEntry], list[Candidate]]:
    """The entries a draft keeps, and the candidates: its stories and the window's new ones.

    An entry whose story was sent since, or is no longer stored, is dropped.
    """
    kept = [_in_config(x, config) for x in before if x.item_key not in gone]
    have = {s.key: s for s in (store.get_item(x.item_key) for x in kept) if s is not None}
    in_window = store.list_items(since=start, until=end, limit=MAX_WINDOW_STORIES)
    window = [s for s in in_window if s.key not in gone and s.key not in have]
    # Copies of stories sent recently must not come back under another URL.
    before_window = store.list_items(
        since=start - FIRST_EDITION_SPAN, until=start, limit=MAX_WINDOW_STORIES
    )
    sent = [s for s in (*before_window, *in_window) if s.key in gone]
    fresh = dedupe(window, taken=[*have.values(), *sent])
    candidates = [_candidate(s, config) for s in (*have.values(), *fresh)]
    return [x for x in kept if x.item_key in have], candidates


def _reordered(store: Store, key: str) -> set[str]:
    """The stories an editor reordered: the audit log is where that decision is kept."""
    return {str(a.detail.get("item")) for a in store.audit_log(key) if a.action == "reorder"}


def _section(region: str, config: Config) -> str:
    """The section of a region; one the config no longer names goes to the fallback."""
    return region if region in config.region_names else config.fallback.name


def _in_config(entry: EditionEntry, config: Config) -> EditionEntry:
    section = _section(entry.region, config)
    return entry if section == entry.region else replace(entry, region=section)


def _candidate(stored: StoredItem, config: Config) -> Candidate:
    return Candidate(stored.key, _section(stored.region, config), story_time(stored))


def _draft_detail(before: Sequence[EditionEntry], edition: Edition) -> Detail:
    old = {x.item_key for x in before}
    new = {x.item_key for x in edition.entries}
    return {
        "window_start": edition.window_start.isoformat(),
        "window_end": edition.window_end.isoformat(),
        "added": [x.item_key for x in edition.entries if x.item_key not in old],
        "dropped": [x.item_key for x in before if x.item_key not in new],
        "stories": sum(1 for x in edition.entries if not x.excluded),
    }
