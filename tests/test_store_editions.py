"""Editions, their entries and the audit log in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from bot.errors import EditionError, StaleEditionError, StoreError
from bot.store import Store
from bot.types import AuditEntry, Edition, EditionEntry, EditionState

START = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def entry(key: str, region: str = "Middle East", position: int = 0, **kw: object) -> EditionEntry:
    return EditionEntry(item_key=key, region=region, position=position, **kw)  # type: ignore[arg-type]


def edition(key: str, state: EditionState = EditionState.DRAFT, *keys: str) -> Edition:
    return Edition(
        key=key,
        state=state,
        window_start=START,
        window_end=START + timedelta(days=7),
        entries=tuple(entry(k, position=n) for n, k in enumerate(keys)),
        created_at=NOW,
        updated_at=NOW,
    )


def test_edition_round_trip_with_every_field(store: Store) -> None:
    full = Edition(
        key="2026-W48",
        state=EditionState.APPROVED,
        window_start=START,
        window_end=START + timedelta(days=7),
        subject="Weekly Round-Up: Nov 24",
        preheader="Iran, NATO and more",
        intro="This week **we** look at...",
        entries=(
            entry("b", "Europe", 0, pinned=True),
            entry("a", "Europe", 1, moved=True, headline="Better headline", lede="Shorter."),
            entry("c", "Middle East", 0, excluded=True),
        ),
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
        approved_by="editor",
        approved_at=NOW.astimezone(timezone(timedelta(hours=-5))),
        approved_hash="sha256:abc",
        sent_at=None,
    )
    assert store.save_edition(full) == 1  # every save counts the version up
    got = store.get_edition("2026-W48")
    assert got == replace(full, version=1)
    assert got is not None and got.approved_at is not None
    assert got.approved_at.utcoffset() == timedelta(0)
    assert store.get_edition("2026-W01") is None


def test_save_edition_replaces_its_entries(store: Store) -> None:
    store.save_edition(edition("2026-W48", EditionState.DRAFT, "a", "b", "c"))
    store.save_edition(edition("2026-W47", EditionState.DRAFT, "a", "z"))
    edited = replace(
        edition("2026-W48", EditionState.DRAFT, "c", "d"),
        subject="New subject",
        updated_at=NOW + timedelta(hours=1),
    )
    assert store.save_edition(edited) == 2
    assert store.get_edition("2026-W48") == replace(edited, version=2)
    other = store.get_edition("2026-W47")
    assert other is not None and [e.item_key for e in other.entries] == ["a", "z"]
    store.save_edition(replace(edited, entries=()))
    emptied = store.get_edition("2026-W48")
    assert emptied is not None and emptied.entries == ()


def test_save_edition_refuses_an_item_twice(store: Store) -> None:
    twice = replace(edition("2026-W48"), entries=(entry("a"), entry("a", "Europe", 1)))
    with pytest.raises(EditionError, match="twice"):
        store.save_edition(twice)
    assert store.get_edition("2026-W48") is None


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (None, ["2026-W48", "2026-W47", "2026-W46", "2026-W09"]),
        ([EditionState.SENT], ["2026-W47", "2026-W09"]),
        ([EditionState.DRAFT, EditionState.APPROVED], ["2026-W48"]),
        ([EditionState.REJECTED], ["2026-W46"]),
        ([], []),
    ],
)
def test_list_editions_newest_key_first(
    store: Store, states: list[EditionState] | None, expected: list[str]
) -> None:
    store.save_edition(edition("2026-W09", EditionState.SENT, "old"))
    store.save_edition(edition("2026-W47", EditionState.SENT, "a"))
    store.save_edition(edition("2026-W48", EditionState.DRAFT, "b", "c"))
    store.save_edition(edition("2026-W46", EditionState.REJECTED, "d"))
    listed = store.list_editions(states)
    assert [e.key for e in listed] == expected
    by_key = {e.key: e for e in listed}
    if "2026-W48" in by_key:
        assert [x.item_key for x in by_key["2026-W48"].entries] == ["b", "c"]


def test_sent_item_keys_skips_excluded_and_unsent(store: Store) -> None:
    sent = replace(
        edition("2026-W47", EditionState.SENT),
        entries=(entry("a"), entry("b", position=1, excluded=True), entry("c", position=2)),
    )
    store.save_edition(sent)
    store.save_edition(edition("2026-W46", EditionState.SENT, "c", "d"))
    store.save_edition(edition("2026-W48", EditionState.APPROVED, "e"))
    store.save_edition(edition("2026-W45", EditionState.SENDING, "f"))
    assert store.sent_item_keys() == {"a", "c", "d"}


def test_audit_log_oldest_first_with_json_detail(store: Store) -> None:
    store.append_audit(AuditEntry("2026-W48", NOW + timedelta(minutes=5), "ed", "approve"))
    store.append_audit(
        AuditEntry(
            "2026-W48",
            NOW,
            "roundup",
            "draft",
            {"items": 12, "regions": ["Europe", "Middle East"], "window": {"days": 7}},
        )
    )
    store.append_audit(AuditEntry("2026-W47", NOW, "roundup", "send", {"batches": 3}))
    same_time = AuditEntry("2026-W48", NOW + timedelta(minutes=5), "ed", "send-test", {})
    store.append_audit(same_time)
    log = store.audit_log("2026-W48")
    assert [(a.action, a.actor) for a in log] == [
        ("draft", "roundup"),
        ("approve", "ed"),
        ("send-test", "ed"),
    ]
    assert log[0].detail == {
        "items": 12,
        "regions": ["Europe", "Middle East"],
        "window": {"days": 7},
    }
    assert log[0].at == NOW and log[0].at.utcoffset() == timedelta(0)
    assert store.audit_log("2026-W01") == []


def test_audit_detail_keeps_datetimes_as_text(store: Store) -> None:
    store.append_audit(AuditEntry("2026-W48", NOW, "ed", "approve", {"at": NOW}))
    [logged] = store.audit_log("2026-W48")
    assert logged.detail == {"at": str(NOW)}


def test_a_row_that_does_not_read_back_is_a_store_error(store: Store) -> None:
    # Rows changed by hand or by a damaged file: an error that says so, not a traceback.
    store.save_edition(edition("2026-W48"))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE editions SET state = 'half-sent' WHERE key = '2026-W48'"))
    with pytest.raises(StoreError, match="'half-sent' is not a valid EditionState") as info:
        store.get_edition("2026-W48")
    if store.dialect == "sqlite":
        assert "is damaged" in str(info.value) and ".recover" in str(info.value)
    else:
        assert "cannot read" in str(info.value) and "backup" in str(info.value)


def test_save_from_a_stale_version_is_refused_and_changes_nothing(store: Store) -> None:
    first = edition("2026-W48", EditionState.DRAFT, "a", "b")
    assert store.save_edition(first, expected_version=0) == 1  # new: nothing to compare
    assert store.save_edition(replace(first, intro="one"), expected_version=1) == 2
    with pytest.raises(StaleEditionError, match="changed since version 1") as caught:
        store.save_edition(replace(first, intro="two"), expected_version=1)
    assert caught.value.current == 2
    got = store.get_edition("2026-W48")
    assert got is not None and got.intro == "one" and got.version == 2
