"""Revision 0005_subscriber_identity on SQLite and PostgreSQL: case variants of one
mailbox stored as separate subscribers are merged, the most protective status wins,
in every combination of statuses; every subscriber gets a public id."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import TableClause, column, insert, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.store import open_store
from bot.store.migrate import alembic_config
from bot.store.schema import metadata
from bot.types import SubscriberStatus
from tests.test_store_migrations import empty_url  # noqa: F401  (the fixture)

S = SubscriberStatus
BEFORE = "0002_subscribers_ledger"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PROTECTIVE = [S.COMPLAINED, S.UNSUBSCRIBED, S.BOUNCED, S.ACTIVE, S.PENDING]  # first wins


def _row(email: str, status: SubscriberStatus, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "status": status.value,
        "signed_up_at": at,
        "confirmed_at": at if status is not S.PENDING else None,
        "status_changed_at": at,
        "status_reason": f"was {status.value}",
        "updated_at": at,
        "name": None,
        **extra,
    }


def _subscribers_at_0002() -> TableClause:
    """The table as revision 0002 made it: today's columns, less 0005's."""
    new = {"email_key", "public_id", "last_signup_at", "confirm_due_at", "confirm_attempts"}
    today = metadata.tables["subscribers"].c
    return table("subscribers", *(column(c.name, c.type) for c in today if c.name not in new))


def test_case_duplicates_merge_to_the_most_protective_status(
    empty_url: str,  # noqa: F811
) -> None:
    pairs = list(itertools.product(S, repeat=2))  # every ordered pair, the same too
    expected: dict[str, tuple[SubscriberStatus, datetime]] = {}
    rows: list[dict[str, Any]] = []
    for i, (first, second) in enumerate(pairs):
        at = T0 + timedelta(days=i)
        rows.append(_row(f"user{i}@example.org", first, at))
        rows.append(_row(f"User{i}@example.org", second, at + timedelta(hours=1), name=f"N{i}"))
        winner = min((first, second), key=PROTECTIVE.index)
        expected[f"user{i}@example.org"] = (winner, at)
    # Three spellings of one, and a mailbox alone.
    rows += [
        _row("trio@example.org", S.ACTIVE, T0),
        _row("Trio@example.org", S.PENDING, T0 + timedelta(hours=1)),
        _row("TRIO@example.org", S.BOUNCED, T0 + timedelta(hours=2)),
        _row("alone@example.org", S.ACTIVE, T0),
    ]
    expected["trio@example.org"] = (S.BOUNCED, T0)
    expected["alone@example.org"] = (S.ACTIVE, T0)

    if empty_url.startswith("sqlite"):
        Path(make_url(empty_url).database or "").parent.mkdir(parents=True)
    with open_store(empty_url) as store:
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), BEFORE)
            conn.execute(insert(_subscribers_at_0002()), rows)
        store.upgrade()
        merged = {s.email: s for s in store.iter_subscribers(status=None, limit=1000)}
        assert set(merged) == set(expected)  # the oldest row, with its spelling, is kept
        for email, (status, signed_up) in expected.items():
            sub = merged[email]
            assert sub.status is status, (email, sub.status)
            assert sub.signed_up_at == signed_up
            assert sub.public_id is not None and len(sub.public_id) == 22
            assert store.get_subscriber(email.upper()) == sub
        assert merged["user0@example.org"].name == "N0"  # a name given by either is kept
        assert merged["user0@example.org"].status_reason == "was pending"
        assert len({s.public_id for s in merged.values()}) == len(merged)

        # The key is the unique constraint now: a second spelling cannot be inserted.
        subscribers = metadata.tables["subscribers"]
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            values = {**rows[0], "email": "USER0@example.org", "public_id": "p" * 22}
            conn.execute(insert(subscribers), {**values, "email_key": "user0@example.org"})
        with store.engine.connect() as conn:
            first = select(subscribers.c.email_key).where(subscribers.c.id == 1)
            assert conn.execute(first).scalar() == "user0@example.org"
