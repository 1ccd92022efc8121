"""roundup's storage layer: SQLAlchemy Core on SQLite or PostgreSQL, Alembic migrations.

`open_store(url)` gives a `Store` (not migrated: call `store.upgrade()`); every
method of it runs in its own transaction and raises `bot.errors.StoreError` with
the database (password hidden) and what to do when the database fails. This package
holds no business rules: it keeps what the other parts decide.

Its names are loaded on first use (`bot.lazy`): `bot.store.peek`, which reads a
SQLite store with the driver alone, is imported before SQLAlchemy is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import lazy

if TYPE_CHECKING:
    from bot.store.core import Store, open_store
    from bot.store.engine import DEFAULT_URL, parse_url, safe_url


def head_revision() -> str:
    """The newest schema revision this code knows (loads Alembic)."""
    from bot.store import migrate

    return migrate.head_revision()


_HOMES = {
    "DEFAULT_URL": "engine",
    "Store": "core",
    "open_store": "core",
    "parse_url": "engine",
    "safe_url": "engine",
}

__all__ = ["DEFAULT_URL", "Store", "head_revision", "open_store", "parse_url", "safe_url"]

__getattr__ = lazy.exports(__name__, _HOMES)
