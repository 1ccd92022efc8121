"""Opening and migrating the store: URLs, empty databases, schema drift, clear errors."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot.errors import ConfigError, StoreError
from bot.store import Store, head_revision, open_store, parse_url
from bot.store.migrate import alembic_config
from bot.store.schema import metadata
from tests.conftest import PG_ADMIN_URL

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TABLES = {
    *("feeds", "items", "editions", "edition_entries", "audit_log", "leases"),
    *("subscribers", "batches", "batch_recipients", "webhook_events"),
    *("users", "login_failures"),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but was never migrated (SQLite: not even its directory)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'not-yet' / 'roundup.db'}"
        return
    request.getfixturevalue("_pg_template")  # skips (or fails) where there is no server
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"roundup_empty_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_from_empty_then_again(empty_url: str) -> None:
    with open_store(empty_url) as store:
        assert store.current_revision() is None
        assert not store.is_current()
        store.upgrade()
        assert store.current_revision() == head_revision() == "0007_scheduler"
        assert set(inspect(store.engine).get_table_names()) >= TABLES
        store.sync_feeds([("rs", "https://rs.example/feed")], NOW)
        store.upgrade()  # idempotent, keeps the data
        assert store.is_current()
        assert [s.name for s in store.feed_states()] == ["rs"]


def test_unmigrated_database_tells_to_upgrade(empty_url: str) -> None:
    with open_store(empty_url) as store:
        with pytest.raises(StoreError, match=r"run `roundup db upgrade`"):
            store.require_current()
        if empty_url.startswith("sqlite"):
            Path(make_url(empty_url).database or "").parent.mkdir(parents=True)
        with pytest.raises(StoreError, match=r"no roundup schema.*run `roundup db upgrade`"):
            store.feed_states()


def test_two_stores_upgrading_at_once_both_succeed(empty_url: str) -> None:
    stores = [open_store(empty_url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def upgrade(store: Store) -> None:
        barrier.wait(timeout=30)
        try:
            store.upgrade()
        except BaseException as exc:  # reported below, with the test's assertion
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert {s.current_revision() for s in stores} == {head_revision()}
    finally:
        for s in stores:
            s.close()


def test_migrated_database_matches_schema_module(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_downgrade_to_base_and_up_again(empty_url: str) -> None:
    with open_store(empty_url) as store:
        store.upgrade()
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert not TABLES & set(inspect(store.engine).get_table_names())
        store.upgrade()
        assert store.is_current()


def test_schema_newer_than_the_code_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StoreError, match=r"9999_future.*upgrade roundup"):
        store.upgrade()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'db' / 'r.db'}") as store:
        store.upgrade()
        with store.engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    assert int(pragmas["busy_timeout"] or 0) >= 5000
    # The file is a plain SQLite database other tools can read.
    with sqlite3.connect(tmp_path / "db" / "r.db") as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (
            head_revision(),
        )


def test_in_memory_sqlite_works_across_calls() -> None:
    with open_store("sqlite://") as store:
        store.upgrade()
        store.sync_feeds([("rs", "https://rs.example/feed")], NOW)
        assert [s.name for s in store.feed_states()] == ["rs"]


@pytest.mark.parametrize(
    ("url", "driver", "database"),
    [
        ("sqlite:///var/roundup.db", "sqlite", "var/roundup.db"),
        ("sqlite:////srv/roundup/roundup.db", "sqlite", "/srv/roundup/roundup.db"),
        ("sqlite://", "sqlite", None),
        ("postgres://u:p@db.internal/roundup", "postgresql+psycopg", "roundup"),
        ("postgresql://u:p@db.internal:5433/roundup", "postgresql+psycopg", "roundup"),
        ("postgresql+psycopg://u@127.0.0.1/roundup", "postgresql+psycopg", "roundup"),
        ("  sqlite:///spaced.db \n", "sqlite", "spaced.db"),
    ],
)
def test_parse_url_maps_to_supported_drivers(url: str, driver: str, database: str | None) -> None:
    parsed = parse_url(url)
    assert (parsed.drivername, parsed.database) == (driver, database)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no database URL"),
        ("roundup.db", "not a database URL"),
        ("mysql://u:p@h/db", "unsupported database 'mysql'"),
        ("postgresql://u:secret@h", "names no database"),
    ],
)
def test_bad_urls_are_refused_with_advice(url: str, message: str) -> None:
    # A URL that names no usable database is bad configuration (exit 2), not a failure.
    with pytest.raises(ConfigError, match=message) as info:
        open_store(url)
    assert "secret" not in str(info.value)
    assert info.value.exit_code == 2


def test_unreachable_postgres_says_what_to_do_and_hides_the_password() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    store = open_store("postgres://roundup:hunter2@127.0.0.1:9/roundup")
    with store, pytest.raises(StoreError) as info:
        store.feed_states()
    message = str(info.value)
    assert "hunter2" not in message
    assert "postgresql+psycopg://roundup:***@127.0.0.1:9/roundup" in message
    assert "is PostgreSQL running" in message
    assert "roundup db upgrade" in message


def test_unwritable_sqlite_location_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with open_store(f"sqlite:///{blocker / 'roundup.db'}") as store:
        with pytest.raises(StoreError, match="cannot create the directory"):
            store.upgrade()
        assert store.current_revision() is None
