"""What every part of the store shares: the engine, transactions, errors, upserts.

What it does: holds the engine and URL, hands out read and write transactions
(write transactions take SQLite's write lock up front), turns any SQLAlchemy error
raised inside them into a `StoreError` that names the database and says what to do,
and so too a row that cannot be read back (a status no enum knows, a date or JSON
that does not parse: a damaged file, or rows written by something else), and builds
the one INSERT ... ON CONFLICT statement both backends understand.
What it does not do: know any table but through the arguments it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import URL, ColumnElement, Connection, Engine, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.store.engine import WRITE_OPTION, translate_error, unreadable_row

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

T = TypeVar("T")

# Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
CHUNK = 500
# What turning a stored value into a domain value raises when the value is not one
# roundup wrote: an unknown enum value, an unparseable date or JSON, a wrong type.
BAD_ROW = (ValueError, TypeError, LookupError)


class StoreBase:
    """The engine and transactions; the feature mixins build on these."""

    engine: Engine
    url: URL
    dialect: str

    def __init__(self, engine: Engine, url: URL) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reading; its transaction is rolled back at the end."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise translate_error(exc, self.url) from exc
        except BAD_ROW as exc:
            raise unreadable_row(exc, self.url) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction that writes: committed at the end, rolled back on error."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise translate_error(exc, self.url) from exc
        except BAD_ROW as exc:
            raise unreadable_row(exc, self.url) from exc

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that can take ON CONFLICT clauses, in this backend's dialect."""
        return _dialect_insert(self.dialect, table)

    def _upsert(
        self,
        table: Table,
        values: Mapping[str, Any],
        keys: Sequence[str],
        update: Sequence[str],
        where: ColumnElement[bool] | None = None,
        also_set: Mapping[str, Any] | None = None,
    ) -> sqlite.Insert | postgresql.Insert:
        """INSERT `values`; on a conflict on `keys`, take the incoming `update` columns
        and the `also_set` expressions, but only where `where` holds (if given).
        With no `values`, the statement takes its rows when executed."""
        return _build_upsert(self.dialect, table, values, keys, update, where, also_set)

    def _cached_upsert(
        self, table: Table, keys: tuple[str, ...], update: tuple[str, ...]
    ) -> sqlite.Insert | postgresql.Insert:
        """`_upsert` with no values (the statement takes its rows when executed), no
        `where` and no `also_set`, built once per backend: building a statement (and
        its cache key) costs more than running it, and some run for every feed polled."""
        return _upsert_statement(self.dialect, table, keys, update)


def _dialect_insert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    if dialect == "postgresql":
        # Imported here: a SQLite store (and `roundup --help`) never needs it.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


@cache
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...]
) -> sqlite.Insert | postgresql.Insert:
    # Statements are immutable: one per backend serves every store and thread.
    return _build_upsert(dialect, table, {}, keys, update)


def _build_upsert(
    dialect: str,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Sequence[str],
    where: ColumnElement[bool] | None = None,
    also_set: Mapping[str, Any] | None = None,
) -> sqlite.Insert | postgresql.Insert:
    statement = _dialect_insert(dialect, table)
    statement = statement.values(**values) if values else statement
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={**{name: statement.excluded[name] for name in update}, **(also_set or {})},
        where=where,
    )


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
