"""Editing, approving and sending an edition: the operations the web UI and CLI call.

Each operation loads the edition, checks the transition table (`states`), applies
a pure change (`entries`), saves the new edition and appends what changed to the
audit log (who, when, action, detail). An edit of an approved edition returns it
to draft and records the voided approval; a change that changes nothing is not an
edit. The approval is bound to `bot.render.content_hash` of the exact content.
This module does not send: `mark_sending` and `mark_sent` record the send part's
progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.clock import ensure_utc
from bot.config import Config
from bot.edition.drafting import actor_name, edition_items, load
from bot.edition.entries import (
    Detail,
    Flag,
    clean_text,
    find,
    move_entry,
    reorder_entry,
    set_flag,
    set_text,
)
from bot.edition.freezing import describe_changes
from bot.edition.states import APPROVED, SENDING, SENT, Action, transition
from bot.errors import EditionError, NotFoundError, StaleEditionError, UsageError
from bot.render import content_hash as render_hash
from bot.render.model import MAX_HEADLINE, MAX_LEDE, MAX_PREHEADER, MAX_SUBJECT
from bot.store import Store
from bot.types import AuditEntry, Edition, EditionEntry

# Editor text is bounded as the renderer bounds it: an editor is told, not cut off.
MAX_INTRO = 20_000
MAX_REASON = 1000

Change = Callable[[Edition], tuple[Edition, Detail | None]]


# --- editing ----------------------------------------------------------------


def _edit(
    store: Store,
    key: str,
    action: str,
    change: Change,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """Apply an editor change; an approved edition returns to draft.

    A change that changes nothing is not an edit: no audit entry, and an approval
    stands. With `version` (the version the editor's form showed) the change is
    refused with `StaleEditionError` if the edition was saved since.
    """
    now, actor = ensure_utc(now), actor_name(actor)
    edition = load(store, key)
    check_version(edition, version)
    state = transition(edition.state, Action.EDIT, edition.key)
    changed, detail = change(edition)
    if detail is None:
        return edition
    new = replace(
        changed,
        state=state,
        approved_by=None,
        approved_at=None,
        approved_hash=None,
        updated_at=now,
    )
    saved = store.save_edition(new, expected_version=edition.version)
    new = replace(new, version=saved)
    store.append_audit(AuditEntry(edition.key, now, actor, action, detail, version=saved))
    if edition.state is APPROVED:
        store.append_audit(_voided(edition, now, actor, cause=action))
    return new


def check_version(edition: Edition, version: int | None) -> None:
    """Refuse a change made from a form that showed an older version of `edition`."""
    if version is not None and version != edition.version:
        raise StaleEditionError(
            f"edition {edition.key} was changed by someone else since you loaded it "
            f"(your version {version}, now {edition.version}); nothing was saved",
            edition.version,
        )


def _voided(edition: Edition, now: datetime, actor: str, *, cause: str) -> AuditEntry:
    detail: Detail = {
        "approved_by": edition.approved_by,
        "approved_at": edition.approved_at.isoformat() if edition.approved_at else None,
        "hash": edition.approved_hash,
        "cause": cause,
    }
    return AuditEntry(edition.key, now, actor, "approval_voided", detail)


def _on_entries(
    fn: Callable[[Sequence[EditionEntry]], tuple[tuple[EditionEntry, ...], Detail | None]],
    item_key: str,
) -> Change:
    def change(edition: Edition) -> tuple[Edition, Detail | None]:
        try:
            find(edition.entries, item_key)
        except NotFoundError:
            raise NotFoundError(
                f"story {item_key!r} is not in edition {edition.key}; "
                f"list its stories with `roundup draft --week {edition.key} --json`"
            ) from None
        entries, detail = fn(edition.entries)
        return replace(edition, entries=entries), detail

    return change


def reorder(
    store: Store,
    key: str,
    item_key: str,
    position: int,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """Put a story at `position` (0 is the top) in its section."""
    change = _on_entries(lambda xs: reorder_entry(xs, item_key, position), item_key)
    return _edit(store, key, "reorder", change, actor=actor, now=now, version=version)


def _flag(
    store: Store,
    key: str,
    item_key: str,
    flag: Flag,
    value: bool,
    action: str,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    change = _on_entries(lambda xs: set_flag(xs, item_key, flag, value), item_key)
    return _edit(store, key, action, change, actor=actor, now=now, version=version)


def pin(
    store: Store, key: str, item_key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Keep a story at the top of its section, and in the edition whatever the caps."""
    return _flag(store, key, item_key, "pinned", True, "pin", actor=actor, now=now, version=version)


def unpin(
    store: Store, key: str, item_key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    return _flag(
        store, key, item_key, "pinned", False, "unpin", actor=actor, now=now, version=version
    )


def exclude(
    store: Store, key: str, item_key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Leave a story out; a refresh does not bring it back."""
    return _flag(
        store, key, item_key, "excluded", True, "exclude", actor=actor, now=now, version=version
    )


def include(
    store: Store, key: str, item_key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    return _flag(
        store, key, item_key, "excluded", False, "include", actor=actor, now=now, version=version
    )


def move(
    store: Store,
    config: Config,
    key: str,
    item_key: str,
    region: str,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """Put a story in another section (one the config names)."""
    if region not in config.region_names:
        names = ", ".join(config.region_names)
        raise UsageError(f"{region!r} is not a section of the newsletter (sections: {names})")
    change = _on_entries(lambda xs: move_entry(xs, item_key, region), item_key)
    return _edit(store, key, "move", change, actor=actor, now=now, version=version)


def set_headline(
    store: Store,
    key: str,
    item_key: str,
    headline: str | None,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """Override a story's headline; None or "" returns to the feed's title."""
    text = clean_text(headline, what="headline", limit=MAX_HEADLINE, one_line=True) or None
    change = _on_entries(lambda xs: set_text(xs, item_key, "headline", text), item_key)
    return _edit(store, key, "headline", change, actor=actor, now=now, version=version)


def set_lede(
    store: Store,
    key: str,
    item_key: str,
    lede: str | None,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """Override a story's lede; None or "" returns to the feed's lede."""
    text = clean_text(lede, what="lede", limit=MAX_LEDE, one_line=True) or None
    change = _on_entries(lambda xs: set_text(xs, item_key, "lede", text), item_key)
    return _edit(store, key, "lede", change, actor=actor, now=now, version=version)


def add_story(
    store: Store, key: str, item_key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Add a stored story by hand, at the end of its section; the caps keep it."""
    stored = store.get_item(item_key)
    if stored is None:
        raise NotFoundError(f"no stored story {item_key!r}; list them with `roundup items`")

    def change(edition: Edition) -> tuple[Edition, Detail | None]:
        if any(x.item_key == item_key for x in edition.entries):
            return edition, None
        last = max((x.position for x in edition.entries if x.region == stored.region), default=-1)
        # moved=True marks an editor's decision, so a refresh's caps keep it.
        entry = EditionEntry(item_key, stored.region, last + 1, moved=True)
        return replace(edition, entries=(*edition.entries, entry)), {
            "item": item_key,
            "region": stored.region,
        }

    return _edit(store, key, "add", change, actor=actor, now=now, version=version)


_SETTERS: dict[str, Callable[[Edition, str], Edition]] = {
    "subject": lambda e, v: replace(e, subject=v),
    "preheader": lambda e, v: replace(e, preheader=v),
    "intro": lambda e, v: replace(e, intro=v),
}


def _field(
    store: Store,
    key: str,
    name: str,
    value: str,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    def change(edition: Edition) -> tuple[Edition, Detail | None]:
        old = getattr(edition, name)
        if old == value:
            return edition, None
        return _SETTERS[name](edition, value), {"from": old, "to": value}

    return _edit(store, key, name, change, actor=actor, now=now, version=version)


def set_subject(
    store: Store,
    key: str,
    subject: str | None,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """The email's subject line (one line); None or "" returns to the config's
    template (``newsletter.subject``, filled in by the renderer)."""
    text = clean_text(subject, what="subject", limit=MAX_SUBJECT, one_line=True)
    return _field(store, key, "subject", text, actor=actor, now=now, version=version)


def set_preheader(
    store: Store,
    key: str,
    preheader: str | None,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """The inbox preview line; None or "" lets the renderer use the first headlines."""
    text = clean_text(preheader, what="preheader", limit=MAX_PREHEADER, one_line=True)
    return _field(store, key, "preheader", text, actor=actor, now=now, version=version)


def set_intro(
    store: Store,
    key: str,
    intro: str | None,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    """The editors' intro, Markdown source (rendering is `bot.render`'s)."""
    text = clean_text(intro, what="intro", limit=MAX_INTRO, one_line=False)
    return _field(store, key, "intro", text, actor=actor, now=now, version=version)


# --- approval and the send states -------------------------------------------


def content_hash(store: Store, config: Config, edition: Edition) -> str:
    """The hash of what the edition would send now (its text and its stories)."""
    return render_hash(edition, edition_items(store, edition), config)


def approve(
    store: Store, config: Config, key: str, by: str, now: datetime, *, version: int | None = None
) -> Edition:
    """Approve a draft: who, when, and the hash of the exact content approved.

    With `version`, only the version the approver saw is approved (`check_version`).
    """
    now, by = ensure_utc(now), actor_name(by)
    edition = load(store, key)
    check_version(edition, version)
    state = transition(edition.state, Action.APPROVE, edition.key)
    items = edition_items(store, edition)
    shown = sum(1 for x in edition.entries if not x.excluded and x.item_key in items)
    if shown == 0:
        raise EditionError(
            f"edition {edition.key} has no stories to send; include one, or refresh it "
            f"with `roundup draft --week {edition.key}` once new stories arrive"
        )
    digest = render_hash(edition, items, config)
    new = replace(
        edition, state=state, approved_by=by, approved_at=now, approved_hash=digest, updated_at=now
    )
    # The content approved is kept as it is now: a send is made from it, never from
    # what the feeds say later. Frozen first, so an approval never lacks it.
    store.drop_renders(new.key)
    store.freeze_items(new.key, digest, items, now)
    saved = store.save_edition(new, expected_version=edition.version)
    detail: Detail = {"hash": digest, "stories": shown}
    store.append_audit(AuditEntry(new.key, now, by, "approve", detail, version=saved))
    return replace(new, version=saved)


def reject(
    store: Store,
    key: str,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
    version: int | None = None,
) -> Edition:
    """Turn an edition down; it will not be sent unless reopened."""
    why = clean_text(reason, what="reason", limit=MAX_REASON, one_line=True)
    return _advance(
        store, key, Action.REJECT, "reject", {"reason": why}, actor=actor, now=now, version=version
    )


def reopen(
    store: Store, key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Make a rejected edition a draft again."""
    return _advance(store, key, Action.REOPEN, "reopen", {}, actor=actor, now=now, version=version)


def mark_sending(
    store: Store, config: Config, key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Record that the send started (or resumed, from `sending`).

    An approved edition whose content changed since its approval (a feed updated
    a story's text) is returned to draft instead, and EditionError says so.
    """
    now, actor = ensure_utc(now), actor_name(actor)
    edition = load(store, key)
    transition(edition.state, Action.SEND, edition.key)
    if edition.state is APPROVED:
        _check_unchanged(store, config, edition, actor=actor, now=now)
    action = "send_resumed" if edition.state is SENDING else "sending"
    return _advance(store, key, Action.SEND, action, {}, actor=actor, now=now, version=version)


def _check_unchanged(
    store: Store, config: Config, edition: Edition, *, actor: str, now: datetime
) -> None:
    """An approved edition about to be sent is exactly what was approved, or it
    becomes a draft again and EditionError names what changed."""
    assert edition.approved_hash is not None
    current = edition_items(store, edition)
    frozen = store.frozen_items(edition.key)
    if render_hash(edition, current, config) != edition.approved_hash:
        before = frozen[1] if frozen and frozen[0] == edition.approved_hash else None
        what = describe_changes(before, current)
        detail: Detail = {"changed": what}
        _edit(store, edition.key, "content_changed", lambda e: (e, detail), actor=actor, now=now)
        raise EditionError(
            f"edition {edition.key} changed since {edition.approved_by} approved it ({what}); "
            "it is a draft again: review and approve it"
        )
    if frozen is None or frozen[0] != edition.approved_hash:
        # Approved before content was frozen: the hash proves the stories now are
        # the approved ones, so they are frozen now.
        store.freeze_items(edition.key, edition.approved_hash, current, now)


def mark_sent(
    store: Store, key: str, *, actor: str, now: datetime, version: int | None = None
) -> Edition:
    """Record that every batch of the edition was delivered."""
    return _advance(store, key, Action.SENT, "sent", {}, actor=actor, now=now, version=version)


def _advance(
    store: Store,
    key: str,
    action: Action,
    name: str,
    detail: Detail,
    *,
    actor: str,
    now: datetime,
    version: int | None = None,
) -> Edition:
    now, actor = ensure_utc(now), actor_name(actor)
    edition = load(store, key)
    check_version(edition, version)
    state = transition(edition.state, action, edition.key)
    new = replace(edition, state=state, updated_at=now)
    if state is SENT:
        new = replace(new, sent_at=now)
    if action is Action.REJECT:
        new = replace(new, approved_by=None, approved_at=None, approved_hash=None)
    saved = store.save_edition(new, expected_version=edition.version)
    store.append_audit(AuditEntry(new.key, now, actor, name, detail, version=saved))
    return replace(new, version=saved)
