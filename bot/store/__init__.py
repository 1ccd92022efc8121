"""roundup's storage layer: SQLAlchemy Core on SQLite or PostgreSQL, Alembic migrations.

`open_store(url)` gives a `Store` (not migrated: call `store.upgrade()`); every
method of it runs in its own transaction and raises `bot.errors.StoreError` with
the database (password hidden) and what to do when the database fails. This package
holds no business rules: it keeps what the other parts decide.
"""

from __future__ import annotations

from bot.store.core import Store, open_store
from bot.store.engine import DEFAULT_URL, parse_url, safe_url


def head_revision() -> str:
    """The newest schema revision this code knows (loads Alembic)."""
    from bot.store import migrate

    return migrate.head_revision()


__all__ = ["DEFAULT_URL", "Store", "head_revision", "open_store", "parse_url", "safe_url"]
