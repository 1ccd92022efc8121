"""Subscribers in the store, on SQLite and PostgreSQL; and the import merge rule as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import NotFoundError, UsageError
from bot.store import Store
from bot.store.subscribers import (
    ImportOutcome,
    ImportRow,
    SkippedRow,
    decide_import,
)
from bot.types import Subscriber, SubscriberStatus

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
S = SubscriberStatus


def test_add_and_get(store: Store) -> None:
    sub = store.add_subscriber(
        "ann@example.org", now=NOW, regions=("Europe",), name="Ann", source="web"
    )
    assert sub.id is not None
    assert sub.status is S.PENDING
    assert sub.regions == ("Europe",)
    assert sub.signed_up_at == NOW and sub.confirmed_at is None
    assert store.get_subscriber("ann@example.org") == sub
    assert store.get_subscriber_by_id(sub.id) == sub
    assert store.get_subscriber("bob@example.org") is None
    assert store.get_subscriber_by_id(sub.id + 1000) is None


def test_add_existing_returns_it_unchanged(store: Store) -> None:
    first = store.add_subscriber("ann@example.org", now=NOW, name="Ann")
    again = store.add_subscriber(
        "ann@example.org", now=LATER, status=S.ACTIVE, name="Other", regions=("Asia",)
    )
    assert again == first


def test_add_active_is_confirmed(store: Store) -> None:
    sub = store.add_subscriber("ann@example.org", now=NOW, status=S.ACTIVE)
    assert sub.confirmed_at == NOW
    assert sub.regions is None  # every region


def test_set_status_records_when_and_why(store: Store) -> None:
    sub = store.add_subscriber("ann@example.org", now=NOW)
    assert sub.id is not None
    active = store.set_subscriber_status(sub.id, S.ACTIVE, now=LATER)
    assert active.status is S.ACTIVE and active.confirmed_at == LATER
    gone = store.set_subscriber_status(
        sub.id, S.BOUNCED, now=LATER + timedelta(days=1), reason="550 no such user"
    )
    assert gone.status is S.BOUNCED
    assert gone.status_reason == "550 no such user"
    assert gone.status_changed_at == LATER + timedelta(days=1)
    again = store.set_subscriber_status(sub.id, S.ACTIVE, now=LATER + timedelta(days=2))
    assert again.confirmed_at == LATER  # the first confirmation is kept
    assert store.get_subscriber_by_id(sub.id) == again


def test_set_status_of_missing_subscriber(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no subscriber with id 999"):
        store.set_subscriber_status(999, S.ACTIVE, now=NOW)


def test_set_regions(store: Store) -> None:
    sub = store.add_subscriber("ann@example.org", now=NOW)
    assert sub.id is not None
    some = store.set_subscriber_regions(sub.id, ("Asia", "Europe", "Asia"), now=LATER)
    assert some.regions == ("Asia", "Europe")
    assert some.updated_at == LATER
    every = store.set_subscriber_regions(sub.id, None, now=LATER)
    assert every.regions is None
    with pytest.raises(UsageError, match="at least one region"):
        store.set_subscriber_regions(sub.id, (), now=LATER)
    with pytest.raises(NotFoundError):
        store.set_subscriber_regions(sub.id + 1, None, now=LATER)


def test_iter_pages_by_id_and_filters_status(store: Store) -> None:
    ids = []
    for n in range(7):
        status = S.ACTIVE if n % 3 else S.UNSUBSCRIBED
        sub = store.add_subscriber(f"r{n}@example.org", now=NOW, status=status)
        assert sub.id is not None
        ids.append(sub.id)
    seen: list[int] = []
    after = 0
    while page := store.iter_subscribers(after_id=after, limit=2):
        assert len(page) <= 2
        seen.extend(s.id for s in page if s.id is not None)
        after = seen[-1]
    assert seen == [i for n, i in enumerate(ids) if n % 3]
    everyone = store.iter_subscribers(status=None, limit=100)
    assert [s.id for s in everyone] == ids
    gone = store.iter_subscribers(status=S.UNSUBSCRIBED)
    assert [s.email for s in gone] == ["r0@example.org", "r3@example.org", "r6@example.org"]
    with pytest.raises(ValueError):
        store.iter_subscribers(limit=0)


def test_count(store: Store) -> None:
    assert store.count_subscribers() == dict.fromkeys(S, 0)
    store.add_subscriber("a@example.org", now=NOW, status=S.ACTIVE)
    store.add_subscriber("b@example.org", now=NOW, status=S.ACTIVE)
    store.add_subscriber("c@example.org", now=NOW)
    store.add_subscriber("d@example.org", now=NOW, status=S.COMPLAINED)
    counts = store.count_subscribers()
    assert counts[S.ACTIVE] == 2 and counts[S.PENDING] == 1 and counts[S.COMPLAINED] == 1
    assert counts[S.UNSUBSCRIBED] == 0 and sum(counts.values()) == 4


def test_import_adds_updates_skips_and_is_idempotent(store: Store) -> None:
    store.add_subscriber("gone@example.org", now=NOW, status=S.UNSUBSCRIBED)
    store.add_subscriber("pend@example.org", now=NOW, name="P")
    rows = [
        ImportRow("new@example.org", line=2, name="New", regions=("Europe",)),
        ImportRow("gone@example.org", line=3, name="Back?"),
        ImportRow("pend@example.org", line=4, status=S.ACTIVE),
        ImportRow("wait@example.org", line=5, status=S.PENDING),
    ]
    result = store.import_subscribers(rows, now=LATER, source="import:list.csv")
    assert (result.added, result.updated, result.unchanged) == (2, 1, 0)
    assert result.skipped == (SkippedRow(3, "gone@example.org", S.UNSUBSCRIBED),)
    new = store.get_subscriber("new@example.org")
    assert new is not None
    assert new.status is S.ACTIVE and new.source == "import:list.csv"
    assert new.regions == ("Europe",) and new.name == "New" and new.signed_up_at == LATER
    gone = store.get_subscriber("gone@example.org")
    assert gone is not None and gone.status is S.UNSUBSCRIBED and gone.name is None
    pend = store.get_subscriber("pend@example.org")
    assert pend is not None and pend.status is S.ACTIVE and pend.name == "P"
    wait = store.get_subscriber("wait@example.org")
    assert wait is not None and wait.status is S.PENDING

    again = store.import_subscribers(rows, now=LATER + timedelta(days=1), source="import:x")
    assert (again.added, again.updated, again.unchanged, len(again.skipped)) == (0, 0, 3, 1)
    assert not again.changed
    assert store.get_subscriber("new@example.org") == new


def test_import_many_rows_crosses_chunks(store: Store) -> None:
    rows = [ImportRow(f"p{n}@example.org", line=n + 2) for n in range(1203)]
    result = store.import_subscribers(iter(rows), now=NOW, source="import:big.csv")
    assert result.added == 1203
    assert store.count_subscribers()[S.ACTIVE] == 1203
    again = store.import_subscribers(iter(rows), now=NOW, source="import:big.csv")
    assert again.unchanged == 1203 and not again.changed


def test_import_repeated_email_in_one_call(store: Store) -> None:
    rows = [
        ImportRow("ann@example.org", line=2, name="Ann"),
        ImportRow("ann@example.org", line=3, name="Ann"),
    ]
    result = store.import_subscribers(rows, now=NOW, source="import:a.csv")
    assert (result.added, result.unchanged) == (1, 1)


def _sub(status: S, **kw: object) -> Subscriber:
    return Subscriber(email="x@example.org", status=status, id=1, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("existing", "row", "outcome", "values"),
    [
        (None, ImportRow("x@example.org"), ImportOutcome.ADDED, {"status": "active"}),
        (
            None,
            ImportRow("x@example.org", status=S.PENDING),
            ImportOutcome.ADDED,
            {"status": "pending", "confirmed_at": None},
        ),
        (None, ImportRow("x@example.org", regions=("A",)), ImportOutcome.ADDED, {"regions": ["A"]}),
        (_sub(S.ACTIVE), ImportRow("x@example.org"), ImportOutcome.UNCHANGED, {}),
        (
            _sub(S.ACTIVE, name="N"),
            ImportRow("x@example.org", name="N"),
            ImportOutcome.UNCHANGED,
            {},
        ),
        (
            _sub(S.ACTIVE, name="N"),
            ImportRow("x@example.org", name="M"),
            ImportOutcome.UPDATED,
            {"name": "M"},
        ),
        (
            _sub(S.ACTIVE, regions=("A",)),
            ImportRow("x@example.org", regions=("A", "B")),
            ImportOutcome.UPDATED,
            {"regions": ["A", "B"]},
        ),
        (
            _sub(S.ACTIVE, regions=("A",)),
            ImportRow("x@example.org", regions=("A",)),
            ImportOutcome.UNCHANGED,
            {},
        ),
        # active never goes back to pending
        (_sub(S.ACTIVE), ImportRow("x@example.org", status=S.PENDING), ImportOutcome.UNCHANGED, {}),
        (
            _sub(S.PENDING),
            ImportRow("x@example.org", status=S.ACTIVE),
            ImportOutcome.UPDATED,
            {"status": "active", "confirmed_at": NOW},
        ),
        (_sub(S.PENDING), ImportRow("x@example.org"), ImportOutcome.UNCHANGED, {}),
        (_sub(S.UNSUBSCRIBED), ImportRow("x@example.org", name="Z"), ImportOutcome.SKIPPED, {}),
        (_sub(S.BOUNCED), ImportRow("x@example.org", status=S.ACTIVE), ImportOutcome.SKIPPED, {}),
        (_sub(S.COMPLAINED), ImportRow("x@example.org"), ImportOutcome.SKIPPED, {}),
        (
            _sub(S.BOUNCED),
            ImportRow("x@example.org", status=S.UNSUBSCRIBED),
            ImportOutcome.SKIPPED,
            {},
        ),
        # an opt-out recorded elsewhere is honoured, for new and open subscribers
        (
            None,
            ImportRow("x@example.org", status=S.UNSUBSCRIBED),
            ImportOutcome.ADDED,
            {"status": "unsubscribed", "confirmed_at": None},
        ),
        (
            _sub(S.ACTIVE),
            ImportRow("x@example.org", status=S.COMPLAINED),
            ImportOutcome.UPDATED,
            {"status": "complained", "status_reason": "import"},
        ),
        (
            _sub(S.PENDING),
            ImportRow("x@example.org", status=S.BOUNCED),
            ImportOutcome.UPDATED,
            {"status": "bounced"},
        ),
    ],
)
def test_decide_import(
    existing: Subscriber | None, row: ImportRow, outcome: ImportOutcome, values: dict[str, object]
) -> None:
    decision = decide_import(existing, row, NOW)
    assert decision.outcome is outcome
    for key, value in values.items():
        assert decision.values[key] == value
    if outcome in (ImportOutcome.UNCHANGED, ImportOutcome.SKIPPED):
        assert decision.values == {}
