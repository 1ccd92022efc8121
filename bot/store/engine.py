"""Engines and errors: turn a database URL into a tuned SQLAlchemy engine.

What it does: parses and normalises the URL (``postgres://`` and ``postgresql://``
become psycopg 3), builds the engine (SQLite: WAL, a busy timeout, foreign keys,
``BEGIN IMMEDIATE`` for writes; PostgreSQL: pre-ping, a connect timeout), and
translates driver errors into `StoreError`s whose message names the database (password
hidden) and says what to do.
What it does not do: run queries or migrations (see `bot.store.base` and
`bot.store.migrate`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bot.errors import ConfigError, StoreError

DEFAULT_URL = "sqlite:///var/roundup.db"
SQLITE_BUSY_TIMEOUT_MS = 15_000
PG_CONNECT_TIMEOUT_S = 10
# Set on a connection whose next transaction will write (see `_sqlite_begin`).
WRITE_OPTION = "roundup_write"

_PG_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg"}
UPGRADE_HINT = "run `roundup db upgrade`"


def parse_url(raw: str) -> URL:
    """Parse a database URL and map every PostgreSQL spelling to psycopg 3.

    A URL that names no usable database is bad configuration: `ConfigError`.
    """
    text = (raw or "").strip()
    if not text:
        raise ConfigError(f"no database URL given: set DATABASE_URL (default {DEFAULT_URL})")
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(
            f"DATABASE_URL is not a database URL ({exc}): use sqlite:///path/to/file.db "
            "or postgresql://user:password@host:5432/dbname"
        ) from None
    if url.drivername in _PG_DRIVERS:
        url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise ConfigError(f"{safe_url(url)} names no database: add /dbname to DATABASE_URL")
    elif url.drivername in {"sqlite", "sqlite+pysqlite"}:
        url = url.set(drivername="sqlite")
    else:
        raise ConfigError(
            f"unsupported database {url.drivername!r} in DATABASE_URL: roundup runs on "
            "SQLite (sqlite:///path/to/file.db) or PostgreSQL (postgresql://...)"
        )
    return url


def safe_url(url: URL | str) -> str:
    """The URL as an operator may see it: the password replaced by ***."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


def is_memory(url: URL) -> bool:
    return url.drivername == "sqlite" and url.database in (None, "", ":memory:")


# Audit details may carry datetimes or enums: store their text rather than fail.
# One encoder for every value: `json.dumps` with options builds a new one per call,
# and a poll stores three JSON values per story.
_json_dumps = json.JSONEncoder(default=str, ensure_ascii=False).encode


def create_store_engine(url: URL) -> Engine:
    """The engine for `url`, tuned for its backend."""
    if url.drivername == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        json_serializer=_json_dumps,
    )


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
    if is_memory(url):
        # One shared connection: each new connection to :memory: is a new, empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        kwargs.update(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Take transaction control from the sqlite3 module so `_sqlite_begin` decides
    # between BEGIN and BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _set_wal(cursor: sqlite3.Cursor) -> None:
    # Switching a new file to WAL needs an exclusive lock and SQLite does not call
    # the busy handler for it: while another process is creating the schema the
    # switch fails at once with "database is locked". WAL is persistent, so only the
    # first connection to a file has to switch; the others retry, bounded by the
    # busy timeout, until the file says it is in WAL mode.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for a busy lock
    # (SQLite returns SQLITE_BUSY at once to avoid deadlock); IMMEDIATE takes the write
    # lock up front, where the busy timeout applies. Two processes then queue, not fail.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def translate_error(exc: SQLAlchemyError, url: URL) -> StoreError:
    """A `StoreError` for `exc` that names the database and says what to do."""
    where = safe_url(url)
    detail = _first_line(exc)
    if not isinstance(exc, DBAPIError):
        return StoreError(f"database error on {where}: {detail}")
    if _is_missing_schema(exc):
        return StoreError(
            f"the database at {where} has no roundup schema or an older one ({detail}): "
            f"{UPGRADE_HINT}"
        )
    lowered = detail.lower()
    if "readonly" in lowered or "read-only" in lowered or "permission denied" in lowered:
        return StoreError(
            f"cannot write the database at {where} ({detail}): check the file's and "
            "directory's permissions, or the database user's grants"
        )
    if "database is locked" in lowered or "lock timeout" in lowered:
        return StoreError(
            f"the database at {where} stayed locked by another roundup process ({detail}): "
            "try again, and check for a stuck process"
        )
    if url.drivername == "sqlite" and _is_damaged(exc):
        return StoreError(damaged_advice(url, detail))
    if url.drivername == "sqlite" and "unable to open" in lowered:
        return StoreError(
            f"cannot open the SQLite file of {where} ({detail}): does its directory exist "
            "and is it writable? `roundup db upgrade` creates it"
        )
    if url.drivername == "sqlite":  # no server to be down: the advice below is PostgreSQL's
        return StoreError(f"database error on the SQLite file of {where}: {detail}")
    if exc.connection_invalidated or exc.statement is None or _is_connect_failure(lowered):
        return StoreError(
            f"cannot connect to the database at {where} ({detail}): is PostgreSQL running "
            f"and DATABASE_URL right? Then {UPGRADE_HINT}"
        )
    return StoreError(f"database error on {where}: {detail}")


def unreadable_row(exc: Exception, url: URL) -> StoreError:
    """The error for a stored value that does not read back (see `base.BAD_ROW`)."""
    detail = f"{type(exc).__name__}: {_first_line(exc)}"
    if url.drivername == "sqlite" and not is_memory(url):
        return StoreError(damaged_advice(url, f"a row does not read back: {detail}"))
    return StoreError(
        f"the database at {safe_url(url)} holds a row roundup cannot read ({detail}): it was "
        "changed by hand or by another program; restore it from a backup"
    )


def damaged_advice(url: URL, detail: str) -> str:
    """Say that the SQLite file is damaged and how to get a good one back."""
    path = url.database or "roundup.db"
    return (
        f"the SQLite file {path} is damaged ({detail}): stop roundup and restore the file "
        f"from a backup, or recover what is readable with `sqlite3 {path} .recover | "
        f"sqlite3 {path}.recovered` and point DATABASE_URL at {path}.recovered"
    )


def _is_damaged(exc: DBAPIError) -> bool:
    # SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), by code when the driver gives it.
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    text = str(exc.orig).lower()
    return "malformed" in text or "not a database" in text


def _is_missing_schema(exc: DBAPIError) -> bool:
    # PostgreSQL: undefined table / column; SQLite says it in words.
    if getattr(exc.orig, "sqlstate", None) in {"42P01", "42703"}:
        return True
    text = str(exc.orig).lower()
    return "no such table" in text or "no such column" in text or "has no column" in text


def _is_connect_failure(lowered: str) -> bool:
    return any(
        phrase in lowered
        for phrase in (
            "connection refused",
            "could not connect",
            "connection failed",
            "timeout expired",
            "does not exist",
            "server closed the connection",
            "name or service not known",
        )
    )


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
