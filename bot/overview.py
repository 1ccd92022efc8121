"""Read-only views of roundup's state for the desk, the archive and the CLI.

What it does: gathers what the editor and ops pages and `roundup editions` show:
the dashboard (current edition, feed health, last sends, stories waiting), an
edition with its stories by section (each with the classifier's reason and other
candidates) and its audit log, the stories list with filters, the sent editions
of the public archive, and the send counts of an edition.
What it does not do: change anything (edits go through `bot.edition`, sends
through `bot.pipeline`) or render pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot import edition as editions
from bot.context import Context
from bot.store.ledger import LedgerSummary
from bot.types import (
    AuditEntry,
    Batch,
    BatchState,
    Classification,
    Edition,
    EditionEntry,
    EditionState,
    FeedState,
    StoredItem,
    SubscriberStatus,
)

PUBLIC_STATES = (EditionState.SENDING, EditionState.SENT)  # readers got (or get) it
MAX_STORIES = 500  # rows on one stories page
MAX_WAITING = 50
# Audit actions that show what changed to the next editor.
NOTE_ACTIONS = ("reject", "approval_voided")


@dataclass(frozen=True)
class EntryView:
    entry: EditionEntry
    stored: StoredItem | None
    classification: Classification | None

    @property
    def title(self) -> str:
        if self.entry.headline:
            return self.entry.headline
        return self.stored.item.title if self.stored else self.entry.item_key

    @property
    def lede(self) -> str:
        if self.entry.lede:
            return self.entry.lede
        return self.stored.item.lede if self.stored else ""


@dataclass(frozen=True)
class EditionView:
    edition: Edition
    sections: tuple[tuple[str, tuple[EntryView, ...]], ...]
    audit: tuple[AuditEntry, ...]
    sends: LedgerSummary

    @property
    def story_count(self) -> int:
        return sum(1 for _, views in self.sections for v in views if not v.entry.excluded)

    @property
    def rejection(self) -> AuditEntry | None:
        """The last rejection, with its note, for the next editor."""
        found = [a for a in self.audit if a.action == "reject"]
        return found[-1] if found else None

    @property
    def voided(self) -> AuditEntry | None:
        """The approval a later edit voided, while the edition is still a draft."""
        if self.edition.state is not EditionState.DRAFT:
            return None
        found = [a for a in self.audit if a.action in ("approve", "approval_voided")]
        return found[-1] if found and found[-1].action == "approval_voided" else None

    def changes_since(self, version: int) -> list[AuditEntry]:
        """What was saved after `version` (what an editor's stale form missed)."""
        return [a for a in self.audit if _version(a) > version]


@dataclass(frozen=True)
class FeedHealth:
    state: FeedState
    items: int
    paused: bool = False


@dataclass(frozen=True)
class SendSummary:
    edition: Edition
    counts: LedgerSummary

    @property
    def recipients(self) -> int:
        return self.counts.total_recipients

    def people(self, state: str) -> int:
        """Recipients in batches of `state` (a `BatchState` value)."""
        return self.counts.recipients.get(BatchState(state), 0)


@dataclass(frozen=True)
class Dashboard:
    current: EditionView | None
    feeds: tuple[FeedHealth, ...]
    sends: tuple[SendSummary, ...]
    waiting: tuple[StoredItem, ...]


@dataclass(frozen=True)
class StoryRow:
    stored: StoredItem
    edition_key: str | None


@dataclass(frozen=True)
class StoryFilter:
    query: str = ""
    region: str | None = None
    feed: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    in_edition: bool | None = None  # None: either


def _version(entry: AuditEntry) -> int:
    return entry.version or 0


def edition_view(ctx: Context, key: str) -> EditionView:
    """An edition (NotFoundError if there is none) with its stories by section."""
    edition = editions.load(ctx.store, key)
    items = editions.edition_items(ctx.store, edition)
    grouped = editions.sections(edition.entries)
    order = [*ctx.config.region_names, *(r for r in grouped if r not in ctx.config.region_names)]
    sections = tuple(
        (
            region,
            tuple(
                EntryView(x, items.get(x.item_key), ctx.store.get_classification(x.item_key))
                for x in grouped[region]
            ),
        )
        for region in order
        if region in grouped
    )
    return EditionView(
        edition, sections, tuple(ctx.store.audit_log(key)), ctx.store.ledger_summary(key)
    )


def current_edition(ctx: Context) -> Edition | None:
    """The newest edition that is not sent yet, else the newest one."""
    found = ctx.store.list_editions()
    open_ones = [e for e in found if e.state is not EditionState.SENT]
    chosen = open_ones or found
    return chosen[0] if chosen else None


def dashboard(ctx: Context) -> Dashboard:
    current = current_edition(ctx)
    counts = ctx.store.feed_item_counts()
    configured = {f.name for f in ctx.config.feeds}
    flags = ctx.store.feed_flags()
    feeds = tuple(
        FeedHealth(s, counts.get(s.name, 0), s.name in flags and flags[s.name].paused)
        for s in ctx.store.feed_states()
        if s.name in configured
    )
    sent = ctx.store.list_editions(states=[*PUBLIC_STATES])[:5]
    sends = tuple(SendSummary(e, ctx.store.ledger_summary(e.key)) for e in sent)
    placed = _placed(ctx)
    recent = ctx.store.list_items(limit=MAX_WAITING * 4)
    waiting = tuple(s for s in recent if s.key not in placed)[:MAX_WAITING]
    return Dashboard(edition_view(ctx, current.key) if current else None, feeds, sends, waiting)


def _placed(ctx: Context) -> dict[str, str]:
    """Each story in an edition (not excluded) with the newest such edition's key."""
    placed: dict[str, str] = {}
    for e in reversed(ctx.store.list_editions()):  # oldest first: newest wins
        for x in e.entries:
            if not x.excluded:
                placed[x.item_key] = e.key
    return placed


def stories(ctx: Context, wanted: StoryFilter) -> list[StoryRow]:
    """Stored stories, newest first, that pass `wanted` (at most MAX_STORIES)."""
    placed = _placed(ctx)
    found = ctx.store.list_items(
        region=wanted.region,
        feed=wanted.feed,
        since=wanted.since,
        until=wanted.until,
        limit=MAX_STORIES * 4 if wanted.query or wanted.in_edition is not None else MAX_STORIES,
    )
    needle = wanted.query.casefold().strip()
    rows = []
    for s in found:
        if needle and needle not in f"{s.item.title} {s.item.lede}".casefold():
            continue
        key = placed.get(s.key)
        if wanted.in_edition is not None and (key is not None) != wanted.in_edition:
            continue
        rows.append(StoryRow(s, key))
    return rows[:MAX_STORIES]


def public_editions(ctx: Context) -> list[Edition]:
    """Every edition readers received (sent, or being sent), newest first."""
    return ctx.store.list_editions(states=[*PUBLIC_STATES])


def public_edition(ctx: Context, key: str) -> Edition | None:
    """The edition if readers may see it; None for a draft, an approved or no edition."""
    found = ctx.store.get_edition(key)
    return found if found is not None and found.state in PUBLIC_STATES else None


def send_counts(ctx: Context, key: str) -> LedgerSummary:
    return ctx.store.ledger_summary(key)


def batches(ctx: Context, key: str) -> list[Batch]:
    return ctx.store.list_batches(key)


def recipients(ctx: Context) -> int:
    """Active subscribers: who a send would reach now."""
    return ctx.store.count_subscribers().get(SubscriberStatus.ACTIVE, 0)


def all_editions(ctx: Context) -> list[tuple[Edition, LedgerSummary]]:
    return [(e, ctx.store.ledger_summary(e.key)) for e in ctx.store.list_editions()]
