"""The weekly edition: draft it from the stored stories, let editors shape it,
approve it, and record the send's progress.

An edition is one issue of the newsletter, keyed by ISO week in the newsletter's
timezone (``2026-W48``), moving ``draft -> approved -> sending -> sent`` (or
``rejected``). Any edit after approval returns it to ``draft``: an approval is
bound to the hash of the exact content approved. Every change is in the audit log.

- `weeks`: week keys, their bounds, the window of stories a draft takes (pure).
- `dedupe`: the same story syndicated twice appears once (pure).
- `entries`: order, caps, merging a refresh, editor changes (pure).
- `states`: the transition table (pure).
- `drafting`: create or refresh a week's draft from the store.
- `editing`: the editor's changes, approval and the send states, on the store.
- `freezing`: the approved content a send is made from, and what changed since.

It does not render (`bot.render`) or send (`bot.send`), and never reads the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import lazy

if TYPE_CHECKING:
    from bot.edition.dedupe import dedupe, normalise_title, same_story, similar_titles, story_time
    from bot.edition.drafting import draft, edition_items, included, load
    from bot.edition.editing import (
        add_story,
        approve,
        check_version,
        content_hash,
        exclude,
        include,
        mark_sending,
        mark_sent,
        move,
        pin,
        reject,
        reopen,
        reorder,
        set_headline,
        set_intro,
        set_lede,
        set_preheader,
        set_subject,
        unpin,
    )
    from bot.edition.entries import (
        Candidate,
        canonical,
        decided,
        merge_entries,
        sections,
        select_entries,
    )
    from bot.edition.freezing import describe_changes, sending_items
    from bot.edition.states import TRANSITIONS, Action, allowed, transition
    from bot.edition.weeks import (
        edition_window,
        normalise_key,
        parse_week,
        week_bounds,
        week_key,
    )

# Loaded on first use (`bot.lazy`): a week key must not import the renderer.
_HOMES = {
    "Action": "states",
    "Candidate": "entries",
    "TRANSITIONS": "states",
    "add_story": "editing",
    "allowed": "states",
    "approve": "editing",
    "canonical": "entries",
    "check_version": "editing",
    "content_hash": "editing",
    "decided": "entries",
    "dedupe": "dedupe",
    "describe_changes": "freezing",
    "draft": "drafting",
    "edition_items": "drafting",
    "edition_window": "weeks",
    "exclude": "editing",
    "include": "editing",
    "included": "drafting",
    "load": "drafting",
    "mark_sending": "editing",
    "mark_sent": "editing",
    "merge_entries": "entries",
    "move": "editing",
    "normalise_key": "weeks",
    "normalise_title": "dedupe",
    "parse_week": "weeks",
    "pin": "editing",
    "reject": "editing",
    "reopen": "editing",
    "reorder": "editing",
    "same_story": "dedupe",
    "sections": "entries",
    "select_entries": "entries",
    "sending_items": "freezing",
    "set_headline": "editing",
    "set_intro": "editing",
    "set_lede": "editing",
    "set_preheader": "editing",
    "set_subject": "editing",
    "similar_titles": "dedupe",
    "story_time": "dedupe",
    "transition": "states",
    "unpin": "editing",
    "week_bounds": "weeks",
    "week_key": "weeks",
}

__all__ = [
    "TRANSITIONS",
    "Action",
    "Candidate",
    "add_story",
    "allowed",
    "approve",
    "canonical",
    "check_version",
    "content_hash",
    "decided",
    "dedupe",
    "describe_changes",
    "draft",
    "edition_items",
    "edition_window",
    "exclude",
    "include",
    "included",
    "load",
    "mark_sending",
    "mark_sent",
    "merge_entries",
    "move",
    "normalise_key",
    "normalise_title",
    "parse_week",
    "pin",
    "reject",
    "reopen",
    "reorder",
    "same_story",
    "sections",
    "select_entries",
    "sending_items",
    "set_headline",
    "set_intro",
    "set_lede",
    "set_preheader",
    "set_subject",
    "similar_titles",
    "story_time",
    "transition",
    "unpin",
    "week_bounds",
    "week_key",
]

__getattr__ = lazy.exports(__name__, _HOMES)
