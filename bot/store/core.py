"""The `Store` and `open_store`: roundup's one way into its database.

What it does: opens a store for a URL (SQLite file, in-memory SQLite, or PostgreSQL
through psycopg 3), migrates it on request, reports its schema revision against the
code's, and closes it. The feature methods come from the mixins: feeds, items,
editions (with the audit log), leases, subscribers (and their sign-ups and queued
confirmation mails), the delivery ledger and webhook events.
What it does not do: migrate on open (callers choose: `roundup db upgrade`, or the
context factory), or hold any state beyond the engine.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError
from bot.store.base import StoreBase
from bot.store.confirmations import ConfirmationsMixin
from bot.store.editions import EditionsMixin
from bot.store.engine import (
    UPGRADE_HINT,
    create_store_engine,
    is_memory,
    parse_url,
    safe_url,
    translate_error,
)
from bot.store.feeds import FeedsMixin
from bot.store.frozen import FrozenMixin
from bot.store.items import ItemsMixin
from bot.store.jobs import JobsMixin
from bot.store.leases import LeasesMixin
from bot.store.ledger import LedgerMixin
from bot.store.revision import database_revision, script_head
from bot.store.subscribers import SubscribersMixin
from bot.store.users import UsersMixin
from bot.store.webhooks import WebhookEventsMixin


class Store(
    FeedsMixin,
    ItemsMixin,
    EditionsMixin,
    LeasesMixin,
    LedgerMixin,
    FrozenMixin,
    ConfirmationsMixin,
    SubscribersMixin,
    WebhookEventsMixin,
    UsersMixin,
    JobsMixin,
    StoreBase,
):
    """roundup's database: feeds, items, editions, audit log, leases, subscribers,
    the delivery ledger, webhook events, the scheduler's job runs and feed flags."""

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision; safe to run again.

        A schema already at the newest revision costs one query: Alembic is loaded
        only when there is something to migrate (or anything to doubt).
        """
        head = script_head()
        if head is not None and self.current_revision() == head:
            return
        from bot.store import migrate

        self._make_sqlite_dir()
        with self._write() as conn:
            migrate.upgrade_to_head(conn)

    def current_revision(self) -> str | None:
        """The database's schema revision; None when it was never migrated."""
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None and not sqlite_file.exists():
            return None  # and do not create an empty file just by asking
        with self._read() as conn:
            return database_revision(conn)

    def head_revision(self) -> str:
        """The newest schema revision this code knows."""
        from bot.store import migrate

        return migrate.head_revision()

    def is_current(self) -> bool:
        """True when the schema is at the revision this code expects."""
        return self.current_revision() == self.head_revision()

    def require_current(self) -> None:
        """Raise a `StoreError` that says what to do unless the schema is current."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise StoreError(
                f"the database at {safe_url(self.url)} is at schema revision "
                f"{current or 'none'}, this roundup needs {head}: {UPGRADE_HINT}"
            )

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _sqlite_file(self) -> Path | None:
        if self.dialect != "sqlite" or is_memory(self.url) or not self.url.database:
            return None
        return Path(self.url.database)

    def _make_sqlite_dir(self) -> None:
        sqlite_file = self._sqlite_file()
        if sqlite_file is None:
            return
        parent = sqlite_file.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory {parent} for the SQLite database "
                f"{safe_url(self.url)}: {exc.strerror or exc}"
            ) from exc


def open_store(url: str) -> Store:
    """A store for `url`; connects lazily and does not migrate.

    ``postgres://`` and ``postgresql://`` URLs use psycopg 3. A URL that cannot be
    used raises `StoreError` saying what a good one looks like.
    """
    parsed = parse_url(url)
    try:
        engine = create_store_engine(parsed)
    except SQLAlchemyError as exc:
        raise translate_error(exc, parsed) from exc
    except (ImportError, TypeError, ValueError) as exc:
        raise StoreError(f"cannot use the database URL {safe_url(parsed)}: {exc}") from exc
    return Store(engine, parsed)
