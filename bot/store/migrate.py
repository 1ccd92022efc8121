"""Schema migrations: run the packaged Alembic scripts from code.

What it does: builds an Alembic configuration in memory (the scripts ship inside the
package under `bot/store/migrations/`; users need no alembic.ini), upgrades a
database to head under a lock (two processes starting together migrate once), and
reads the current and head revisions so callers can tell an old schema.
What it does not do: open engines or translate errors (the `Store` does both), or
generate migrations (developers write them by hand, see `migrations/README`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text

from bot.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every roundup process.
_PG_MIGRATION_LOCK = 0x726F756E6475


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic config for the packaged scripts, bound to `connection`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only if the package lost its migration scripts
        raise StoreError(f"no migration scripts found in {MIGRATIONS_DIR}: reinstall roundup")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(connection: Connection) -> None:
    """Upgrade the database behind `connection` (inside its transaction) to head."""
    if connection.dialect.name == "postgresql":
        # Held until the transaction ends; SQLite is serialised by BEGIN IMMEDIATE.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    known = current_revision(connection)
    script = ScriptDirectory.from_config(alembic_config())
    if known is not None and _unknown(script, known):
        raise StoreError(
            f"the database is at schema revision {known}, which this roundup does not know "
            f"(its newest is {head_revision()}): upgrade roundup before using this database"
        )
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:
        raise StoreError(f"migrating the database failed: {exc}") from exc


def _unknown(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is None
    except CommandError:
        return True
