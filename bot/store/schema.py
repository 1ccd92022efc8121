"""The database schema of roundup: one `MetaData`, every table, two column types.

What it does: declares the tables as SQLAlchemy Core `Table`s (the shape the code
reads and writes), a `UTCDateTime` type that stores UTC and always returns
UTC-aware datetimes (SQLite keeps no offset, PostgreSQL returns the session's
zone), and a `JSONValue` type (JSON on SQLite, JSONB on PostgreSQL).
What it does not do: create or alter tables. The Alembic migrations under
`bot/store/migrations/versions/` do that, each a frozen snapshot; a test checks that
the migrated database and this module agree, so a change here needs a new migration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from bot.clock import ensure_utc

# Named constraints let later migrations alter tables on SQLite (batch mode), which
# recreates a table and must know every constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back as a UTC-aware datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = ensure_utc(value)
        # SQLite stores text without an offset: keep it naive so every value has one
        # format and text order is time order (lease expiry, sorting, windows).
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, one step where SQLAlchemy takes two (ours, then its DATETIME's
        text formatting): a poll binds five timestamps per story. The text is the
        same; should a SQLAlchemy release format otherwise, its processor is used."""
        reference = super().bind_processor(dialect)
        if dialect.name != "sqlite" or reference is None:
            return reference
        if any(_sqlite_text(sample) != reference(sample) for sample in _SAMPLES):
            return reference
        return _sqlite_text


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return ensure_utc(value).isoformat(" ", "microseconds")[:-6]  # less "+00:00"


# Instants whose SQLite text the fast path must match: no and some microseconds,
# an early year, a naive value (taken as UTC) and another zone.
_SAMPLES = (
    datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999),
    datetime(2026, 6, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
)


class _JSONValue(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL; None is SQL NULL."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            # Imported here: a SQLite store (and `roundup --help`) never needs it.
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


JSONValue = _JSONValue()

feeds = Table(
    "feeds",
    metadata,
    Column("name", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("config_url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", Text),
    Column("last_attempt", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("next_due", UTCDateTime),
    Column("last_error", Text),
    Column("title", Text),
    Column("added_at", UTCDateTime),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False),
    Column("feed", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("lede", Text, nullable=False, server_default=""),
    Column("content", Text, nullable=False, server_default=""),
    Column("author", Text),
    Column("published", UTCDateTime),
    Column("updated", UTCDateTime),
    Column("tags", JSONValue, nullable=False),
    Column("image_url", Text),
    Column("image_credit", Text),
    Column("region", Text, nullable=False),
    Column("candidates", JSONValue, nullable=False),
    Column("rule", JSONValue),
    Column("region_manual", Boolean, nullable=False, server_default=false()),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    # coalesce(published, first_seen), kept by the code so it can be indexed on both
    # backends: the order and the time filter of list_items.
    Column("sort_at", UTCDateTime, nullable=False),
    UniqueConstraint("key"),
    Index("ix_items_canonical_url", "canonical_url"),
    Index("ix_items_feed", "feed"),
    Index("ix_items_sort_at", "sort_at", "id"),
    Index("ix_items_region_sort_at", "region", "sort_at"),
)

editions = Table(
    "editions",
    metadata,
    Column("key", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("subject", Text, nullable=False, server_default=""),
    Column("preheader", Text, nullable=False, server_default=""),
    Column("intro", Text, nullable=False, server_default=""),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("approved_by", Text),
    Column("approved_at", UTCDateTime),
    Column("approved_hash", Text),
    Column("sent_at", UTCDateTime),
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_editions_state", "state"),
)

edition_entries = Table(
    "edition_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "edition_key",
        Text,
        ForeignKey("editions.key", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("item_key", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("pinned", Boolean, nullable=False, server_default=false()),
    Column("excluded", Boolean, nullable=False, server_default=false()),
    Column("moved", Boolean, nullable=False, server_default=false()),
    Column("headline", Text),
    Column("lede", Text),
    UniqueConstraint("edition_key", "item_key"),
    Index("ix_edition_entries_item_key", "item_key"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edition_key", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("detail", JSONValue, nullable=False),
    Column("version", Integer),  # the edition's version the change saved
    Index("ix_audit_log_edition_key", "edition_key", "id"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Subscribers and the delivery ledger (revision 0002_subscribers_ledger).

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False),  # normalised; the spelling mail goes to
    Column("name", Text),
    Column("status", Text, nullable=False),
    Column("regions", JSONValue),  # null: every region; else a list of region names
    Column("source", Text),
    Column("signed_up_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("status_changed_at", UTCDateTime),
    Column("status_reason", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    # Revision 0005_subscriber_identity: one mailbox is one subscriber, whatever the
    # spelling; links name a random public id; confirmation mails wait in a queue.
    Column("email_key", Text, nullable=False),  # `email_key(email)`: the identity; unique
    Column("public_id", Text, nullable=False),  # 128 random bits, url-safe; unique
    Column("last_signup_at", UTCDateTime),
    Column("confirm_due_at", UTCDateTime),  # a confirmation mail is queued, due then
    Column("confirm_attempts", Integer, nullable=False, server_default="0"),
    UniqueConstraint("email_key"),
    UniqueConstraint("public_id"),
    Index("ix_subscribers_status_id", "status", "id"),
    Index("ix_subscribers_confirm_due_at", "confirm_due_at"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edition_key", Text, nullable=False),
    Column("seq", Integer, nullable=False),  # order within the edition's send
    Column("regions", JSONValue, nullable=False),  # the region set this batch's render covers
    Column("state", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("transport", Text),
    Column("error", Text),
    Column("message_id", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime),
    UniqueConstraint("edition_key", "seq"),
    Index("ix_batches_edition_key_state", "edition_key", "state"),
)

batch_recipients = Table(
    "batch_recipients",
    metadata,
    Column("edition_key", Text, nullable=False),
    Column("subscriber_id", Integer, nullable=False),
    Column(
        "batch_id",
        Integer,
        ForeignKey("batches.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", Text, nullable=False),
    # The primary key is the promise: one recipient, one batch, per edition.
    PrimaryKeyConstraint("edition_key", "subscriber_id"),
    Index("ix_batch_recipients_batch_id", "batch_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("event_id", Text, primary_key=True),  # SendGrid's sg_event_id: replays are no-ops
    Column("event", Text, nullable=False),
    Column("email", Text),
    Column("batch_id", Integer),
    Column("received_at", UTCDateTime, nullable=False),
)

# The frozen content of an approved edition and the plan's transport
# (revision 0004_send_integrity).

edition_frozen = Table(
    "edition_frozen",
    metadata,
    # The stories an approval saw, exactly as it saw them: what every render of
    # the send is made from, whatever the feeds say later.
    Column("edition_key", Text, primary_key=True),
    Column("approved_hash", Text, nullable=False),
    Column("items", JSONValue, nullable=False),
    Column("frozen_at", UTCDateTime, nullable=False),
)

edition_renders = Table(
    "edition_renders",
    metadata,
    # One render per region set a send goes to, made once from the frozen content.
    Column("edition_key", Text, nullable=False),
    Column("regions", Text, nullable=False),  # the region set's names, joined by "|"
    Column("approved_hash", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("sections", JSONValue, nullable=False),
    Column("story_count", Integer, nullable=False),
    Column("rendered_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("edition_key", "regions"),
)

send_plans = Table(
    "send_plans",
    metadata,
    Column("edition_key", Text, primary_key=True),
    Column("transport", Text, nullable=False),
    Column("planned_at", UTCDateTime, nullable=False),
)

# Desk users and login throttling (revision 0006_desk).

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("email", Text),
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("session_epoch", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", Text, nullable=False),  # "user:NAME" or "addr:IP"
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_scope", "scope", "at"),
)
# The scheduler's own state (revision 0007_scheduler).

# One row per run of a scheduled job's slot ("draft" of "2026-W48"): the unique
# key is what keeps two runners, or a restart, from running one slot twice.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", Text, nullable=False),  # draft | send | notice:...
    Column("slot", Text, nullable=False),  # the week, or the scheduled instant
    Column("state", Text, nullable=False),  # running | done | failed | skipped | missed
    Column("actor", Text, nullable=False),  # "scheduler" or the operator's name
    Column("holder", Text, nullable=False),  # the process (see bot.lease.Holder)
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("detail", JSONValue, nullable=False),
    UniqueConstraint("job", "slot"),
)

# What ops decide about a feed (paused) and what the scheduler told them (alerted).
feed_flags = Table(
    "feed_flags",
    metadata,
    Column("name", Text, primary_key=True),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_by", Text),
    Column("alerted_at", UTCDateTime),  # a down alert went out; cleared on recovery
    Column("updated_at", UTCDateTime, nullable=False),
)
