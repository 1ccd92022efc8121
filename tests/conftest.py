"""Shared test fixtures: databases (SQLite and PostgreSQL, both real), config, clock.

PostgreSQL: `ROUNDUP_TEST_POSTGRES_URL` (default: the local server, database
`test`) is used to create one migrated template database per test session; each
test gets its own copy (CREATE DATABASE ... TEMPLATE), so tests never see each
other's rows. Without a server the PostgreSQL cases skip, unless
`ROUNDUP_REQUIRE_POSTGRES=1`, when they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.clock import FixedClock
from bot.store import Store, open_store
from tests.httpserver import feed_server_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
PG_ADMIN_URL = os.environ.get(
    "ROUNDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def skip_or_fail(reason: str, require_env: str) -> None:
    if _required(require_env):
        pytest.fail(f"{reason} ({require_env}=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    store = open_store(f"sqlite:///{path}")
    store.upgrade()
    store.close()
    return path


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any driver error means: no server here
        admin.dispose()
        skip_or_fail(
            f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}", "ROUNDUP_REQUIRE_POSTGRES"
        )
    name = f"roundup_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    store = open_store(url)
    store.upgrade()
    store.close()
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    template = request.getfixturevalue("_pg_template")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"roundup_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file for one test."""
    path = tmp_path / "roundup.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs twice: on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = open_store(database_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


# Speed is shown in bench/, never by a timed test: hypothesis' per-example deadline
# would make property tests fail on a busy machine, so it is off.
settings.register_profile("roundup", deadline=None)
settings.load_profile("roundup")
