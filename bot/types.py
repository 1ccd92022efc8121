"""Domain types of roundup: frozen dataclasses and Enum states.

These are the values that flow between the parts (ingest -> classify -> store ->
edition -> render -> send). They carry no behaviour beyond small derived
properties; all datetimes are UTC-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class FetchStatus(Enum):
    """How one poll of one feed ended."""

    FETCHED = "fetched"  # a new body was fetched and parsed
    NOT_MODIFIED = "not_modified"  # 304, or a body whose hash did not change
    FAILED = "failed"  # network, HTTP, size, redirect or parse failure
    SKIPPED = "skipped"  # not due yet (backing off or interval not reached)


@dataclass(frozen=True)
class FeedState:
    """A feed's identity and fetch state, as kept in the store."""

    name: str
    url: str  # the URL polled; a permanent redirect replaces it
    config_url: str  # the URL the config names (to notice a config change)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    consecutive_failures: int = 0
    next_due: datetime | None = None
    last_error: str | None = None
    title: str | None = None  # the feed's own title, once seen


@dataclass(frozen=True)
class Item:
    """One story, normalised from a feed entry.

    `key` is stable across polls and feeds: from the guid, else the canonical link.
    `canonical_url` is the link with tracking parameters stripped and scheme/host
    normalised; the store treats two items with the same key or the same
    canonical_url as the same story.
    """

    key: str
    feed: str
    url: str
    canonical_url: str
    title: str
    lede: str = ""
    content: str = ""  # sanitised HTML
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    image_url: str | None = None
    image_credit: str | None = None


@dataclass(frozen=True)
class RuleMatch:
    """The rule that placed an item: which kind, for which region, on what."""

    kind: str  # "tag" | "url" | "keyword" | "feed"
    region: str
    pattern: str
    field: str  # "tags" | "url" | "title" | "lede" | "feed"
    matched: str  # the text of the item that matched


@dataclass(frozen=True)
class Classification:
    """Where an item goes, why, and which other regions also matched."""

    region: str
    rule: RuleMatch | None  # None: nothing matched, `region` is the fallback
    candidates: tuple[str, ...] = ()  # other regions that matched, best first
    # The runner-up's evidence is close to the winner's: an editor should look.
    uncertain: bool = False


@dataclass(frozen=True)
class StoredItem:
    """An item as kept in the store, with its region."""

    item: Item
    region: str
    candidates: tuple[str, ...] = ()
    region_manual: bool = False  # an editor placed it; re-classification keeps it
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @property
    def key(self) -> str:
        return self.item.key


@dataclass(frozen=True)
class UpsertResult:
    """What storing a batch of items did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


class EditionState(Enum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"


@dataclass(frozen=True)
class EditionEntry:
    """One story's place in an edition, with the editor's decisions."""

    item_key: str
    region: str  # the section it appears in (an editor may move it)
    position: int  # order within the section, 0 first
    pinned: bool = False
    excluded: bool = False
    moved: bool = False  # region set by an editor, not by classification
    headline: str | None = None  # editor's override of the title
    lede: str | None = None  # editor's override of the lede


@dataclass(frozen=True)
class Edition:
    """One issue of the newsletter, keyed by ISO week (``2026-W48``)."""

    key: str
    state: EditionState
    window_start: datetime
    window_end: datetime
    subject: str = ""
    preheader: str = ""
    intro: str = ""  # Markdown, rendered safely
    entries: tuple[EditionEntry, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    approved_hash: str | None = None
    sent_at: datetime | None = None
    version: int = 0  # counts every save: a form from an older version is refused


@dataclass(frozen=True)
class AuditEntry:
    """One change to an edition: who, when, what."""

    edition_key: str
    at: datetime
    actor: str
    action: str
    detail: dict[str, object] = field(default_factory=dict)
    version: int | None = None  # the edition's version this change saved


class SubscriberStatus(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


@dataclass(frozen=True)
class Subscriber:
    email: str  # normalised: trimmed, domain lower-cased
    status: SubscriberStatus
    regions: tuple[str, ...] | None = None  # None: every region
    name: str | None = None
    signed_up_at: datetime | None = None
    source: str | None = None
    id: int | None = None
    confirmed_at: datetime | None = None  # when it became active (double opt-in or import)
    status_changed_at: datetime | None = None
    status_reason: str | None = None  # why the status last changed (a bounce reason, ...)
    updated_at: datetime | None = None
    public_id: str | None = None  # random, what links name (never the row id)


class BatchState(Enum):
    """A batch's place in the delivery ledger.

    ``pending -> in_flight -> accepted | failed``; a batch whose request may or may
    not have reached the provider (a timeout, or ``in_flight`` found after a crash)
    is ``ambiguous`` and is resent only when the operator asks.
    """

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Batch:
    """One request's worth of recipients of an edition, in the delivery ledger."""

    id: int
    edition_key: str
    regions: tuple[str, ...]  # the region set this batch's render covers
    state: BatchState
    recipients: tuple[str, ...] = ()
    attempts: int = 0
    error: str | None = None
    message_id: str | None = None
    updated_at: datetime | None = None
    seq: int = 0  # order within the edition's send
    size: int = 0  # recipients planned into it
    transport: str | None = None  # the transport of its last attempt
    created_at: datetime | None = None
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class LeaseState:
    """A lease as the store holds it, lapsed or not (see `bot.lease`)."""

    name: str
    holder: str  # `bot.lease.Holder.encode()`: host, pid, process start, nonce
    acquired_at: datetime
    expires_at: datetime


class Role(Enum):
    """What a desk user may do: an editor shapes and approves, ops also sends."""

    EDITOR = "editor"
    OPS = "ops"


@dataclass(frozen=True)
class User:
    """A desk account. `session_epoch` counts up to end every session at once."""

    name: str
    role: Role
    password_hash: str
    email: str | None = None
    disabled: bool = False
    session_epoch: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class JobRunState(Enum):
    """How one run of a scheduled job's slot stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # decided not to act (a quiet week, too late to catch up)
    MISSED = "missed"  # the send deadline passed without an approved edition


@dataclass(frozen=True)
class JobRun:
    """One run of a scheduled job for one slot (`job` "draft", `slot` "2026-W48")."""

    job: str
    slot: str
    state: JobRunState
    actor: str
    holder: str
    started_at: datetime
    finished_at: datetime | None = None
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedFlags:
    """What ops decided about a feed, and whether it is in alert."""

    name: str
    paused: bool = False
    paused_by: str | None = None
    alerted_at: datetime | None = None
