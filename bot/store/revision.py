"""The schema revision, read cheaply: the database's, and the newest the code ships.

What it does: `script_head()` reads the ``revision`` and ``down_revision`` lines of
the packaged migration scripts (a few small files, no Alembic import) and returns
the one revision no other script revises; `database_revision(conn)` reads
``alembic_version`` with one query. Together they let every start skip Alembic
when the schema is already current: Alembic is imported only to migrate.
What it does not do: migrate, or judge a revision it cannot read (it returns None
and the caller falls back to Alembic, which knows best).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `script_head` alone is read before SQLAlchemy is imported
    from sqlalchemy import Connection

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN = re.compile(r"""^down_revision\s*(?::[^=]*)?=\s*(?:["']([^"']+)["']|None)""", re.MULTILINE)


@cache
def script_head(versions: Path = VERSIONS_DIR) -> str | None:
    """The newest revision among the migration scripts; None unless exactly one."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        found, down = _REVISION.search(source), _DOWN.search(source)
        if found is None:
            continue
        if down is None:  # a script we cannot read: let Alembic decide
            return None
        revisions.add(found.group(1))
        if down.group(1):
            revised.add(down.group(1))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def database_revision(conn: Connection) -> str | None:
    """The revision stored in the database; None when it was never migrated (or
    cannot be read: the caller then hands the question to Alembic)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except (OperationalError, ProgrammingError):  # no such table (SQLite; PostgreSQL)
        conn.rollback()
        return None
    return rows[0] if len(rows) == 1 else None
