"""Editions in the store: each issue, its entries, and the audit log of changes.

What it does: saves an edition with its entries in one transaction (the entries are
replaced as a whole, so the stored edition is exactly the one given), reads and
lists editions, lists the items already sent, and appends to and reads the audit log.
What it does not do: decide anything about an edition (states, approval, what
goes in); that is `bot.edition`, which calls these.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from bot.clock import ensure_utc
from bot.errors import EditionError, StaleEditionError
from bot.store.base import StoreBase, chunks
from bot.store.schema import audit_log, edition_entries, editions
from bot.types import AuditEntry, Edition, EditionEntry, EditionState

_EDITION_COLUMNS = (
    "subject",
    "preheader",
    "intro",
    "created_at",
    "updated_at",
    "approved_by",
    "approved_at",
    "approved_hash",
    "sent_at",
)


class EditionsMixin(StoreBase):
    def get_edition(self, key: str) -> Edition | None:
        with self._read() as conn:
            row = conn.execute(select(editions).where(editions.c.key == key)).mappings().first()
            if row is None:
                return None
            return _edition(row, _entries(conn, [key]).get(key, ()))

    def save_edition(self, edition: Edition, *, expected_version: int | None = None) -> int:
        """Insert or update the edition and replace its entries with `edition.entries`.

        Every save counts the stored version up by one and returns the new version.
        With `expected_version`, the save is refused (`StaleEditionError`) unless the
        stored edition is still at that version: two editors saving at once cannot
        silently overwrite each other.
        """
        _check_unique(edition)
        values = _edition_values(edition)
        with self._write() as conn:
            current = _locked_version(conn, edition.key, postgres=self.dialect == "postgresql")
            if expected_version is not None and current is not None and current != expected_version:
                raise StaleEditionError(
                    f"edition {edition.key} changed since version {expected_version} "
                    f"(it is at version {current} now)",
                    current,
                )
            values["version"] = (current or 0) + 1
            upsert = self._upsert(editions, {"key": edition.key, **values}, ["key"], list(values))
            conn.execute(upsert)
            conn.execute(
                delete(edition_entries).where(edition_entries.c.edition_key == edition.key)
            )
            if edition.entries:
                conn.execute(
                    insert(edition_entries),
                    [_entry_values(edition.key, entry) for entry in edition.entries],
                )
        return int(values["version"])

    def list_editions(self, states: Collection[EditionState] | None = None) -> list[Edition]:
        """Editions, newest key first; only those in `states` if given."""
        query = select(editions).order_by(editions.c.key.desc())
        if states is not None:
            query = query.where(editions.c.state.in_([s.value for s in states]))
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
            entries = _entries(conn, [row["key"] for row in rows])
        return [_edition(row, entries.get(row["key"], ())) for row in rows]

    def sent_item_keys(self) -> set[str]:
        """Keys of items that went out (not excluded) in any SENT edition."""
        query = (
            select(edition_entries.c.item_key)
            .join(editions, editions.c.key == edition_entries.c.edition_key)
            .where(editions.c.state == EditionState.SENT.value)
            .where(edition_entries.c.excluded.is_(False))
            .distinct()
        )
        with self._read() as conn:
            return set(conn.execute(query).scalars())

    def append_audit(self, entry: AuditEntry) -> None:
        values = {
            "edition_key": entry.edition_key,
            "at": ensure_utc(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "detail": dict(entry.detail),
            "version": entry.version,
        }
        with self._write() as conn:
            conn.execute(insert(audit_log).values(**values))

    def audit_log(self, edition_key: str) -> list[AuditEntry]:
        """The edition's audit entries, oldest first (ties in the order appended)."""
        query = (
            select(audit_log)
            .where(audit_log.c.edition_key == edition_key)
            .order_by(audit_log.c.at, audit_log.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            AuditEntry(
                edition_key=row["edition_key"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                detail=dict(row["detail"] or {}),
                version=row["version"],
            )
            for row in rows
        ]

    def edition_version(self, key: str) -> int | None:
        with self._read() as conn:
            found = conn.execute(select(editions.c.version).where(editions.c.key == key)).first()
        return None if found is None else int(found[0])


def _locked_version(conn: Connection, key: str, *, postgres: bool) -> int | None:
    query = select(editions.c.version).where(editions.c.key == key)
    if postgres:
        query = query.with_for_update()  # SQLite's write transaction already holds the lock
    found = conn.execute(query).first()
    return None if found is None else int(found[0])


def _check_unique(edition: Edition) -> None:
    seen: set[str] = set()
    for entry in edition.entries:
        if entry.item_key in seen:
            raise EditionError(
                f"edition {edition.key} lists item {entry.item_key!r} twice: an item has "
                "one place in an edition"
            )
        seen.add(entry.item_key)


def _entries(conn: Connection, keys: list[str]) -> dict[str, tuple[EditionEntry, ...]]:
    found: dict[str, list[EditionEntry]] = {}
    for part in chunks(keys):
        query = (
            select(edition_entries)
            .where(edition_entries.c.edition_key.in_(part))
            .order_by(edition_entries.c.edition_key, edition_entries.c.id)
        )
        for row in conn.execute(query).mappings():
            found.setdefault(row["edition_key"], []).append(_entry(row))
    return {key: tuple(values) for key, values in found.items()}


def _edition_values(edition: Edition) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(edition, name) for name in _EDITION_COLUMNS}
    values["state"] = edition.state.value
    values["window_start"] = edition.window_start
    values["window_end"] = edition.window_end
    return values


def _edition(row: RowMapping, entries: tuple[EditionEntry, ...]) -> Edition:
    return Edition(
        key=row["key"],
        state=EditionState(row["state"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
        entries=entries,
        version=int(row["version"] or 0),
        **{name: row[name] for name in _EDITION_COLUMNS},
    )


def _entry_values(edition_key: str, entry: EditionEntry) -> dict[str, Any]:
    return {
        "edition_key": edition_key,
        "item_key": entry.item_key,
        "region": entry.region,
        "position": entry.position,
        "pinned": entry.pinned,
        "excluded": entry.excluded,
        "moved": entry.moved,
        "headline": entry.headline,
        "lede": entry.lede,
    }


def _entry(row: RowMapping) -> EditionEntry:
    return EditionEntry(
        item_key=row["item_key"],
        region=row["region"],
        position=row["position"],
        pinned=bool(row["pinned"]),
        excluded=bool(row["excluded"]),
        moved=bool(row["moved"]),
        headline=row["headline"],
        lede=row["lede"],
    )
