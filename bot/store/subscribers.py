"""Subscribers in the store: add, look up, change status and regions, page, count, import.

What it does: keeps one row per mailbox: its identity is `email_key` (local part
case-folded, domain lower-cased in its ASCII form), unique, while `email` keeps the
spelling mail goes to; every look-up, the import and the webhook go by the key.
Gives each subscriber a random public id (what links name). Adds a subscriber or hands
back the existing one, changes a subscriber's status (with when and why) or regions,
pages through subscribers by id (keyset, so a send of 100,000 keeps memory flat),
counts them by status, and imports rows in chunks, each chunk one transaction, with
the merge rule `decide_import` (a pure function): new emails are added, known ones
updated only where the row says something new, and nobody who unsubscribed, bounced
or complained is ever re-activated.
What it does not do: normalise or validate emails, names or regions (callers do:
`bot.subscribers`), parse CSV, send confirmations, or decide what a web page or a
webhook event does to a status.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import idna
from sqlalchemy import Connection, RowMapping, func, select, update

from bot.clock import ensure_utc
from bot.errors import NotFoundError, StoreError, UsageError
from bot.store.base import CHUNK, StoreBase
from bot.store.schema import subscribers
from bot.types import Subscriber, SubscriberStatus

# Statuses a person reached by leaving or by failing delivery: an import never undoes them.
CLOSED = frozenset(
    {SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}
)
MAX_PAGE = 10_000
MAX_REASON = 500
PUBLIC_ID_BYTES = 16  # 128 bits
# A concurrent signup may insert an email between our read and our insert; the chunk
# is then redone, and after this many tries the import stops with a clear error.
_CHUNK_TRIES = 3


def email_key(email: str) -> str:
    """The identity of a mailbox: ``"Ann.Lee@Example.ORG"`` -> ``"ann.lee@example.org"``.

    The local part is case-folded (mail systems treat case variants as one mailbox in
    practice, and one person must not be mailed twice), the domain lower-cased and in
    its ASCII (IDNA) form. The address mail goes to keeps its own spelling.
    """
    local, _, domain = email.strip().rpartition("@")
    domain = domain.rstrip(".")
    if not domain.isascii():
        # Not a valid domain: kept as is, a key that matches no normalised address.
        with contextlib.suppress(idna.IDNAError):
            domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local.casefold()}@{domain.lower()}"


def new_public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


class ImportOutcome(Enum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # known, and unsubscribed/bounced/complained: left alone


@dataclass(frozen=True)
class ImportRow:
    """One subscriber to import; None in a field means the file did not say."""

    email: str  # normalised by the caller
    line: int = 0  # where it came from, for reports
    name: str | None = None
    regions: tuple[str, ...] | None = None
    status: SubscriberStatus | None = None  # None: ACTIVE for new ones, unchanged for others


@dataclass(frozen=True)
class SkippedRow:
    line: int
    email: str
    status: SubscriberStatus


@dataclass(frozen=True)
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: tuple[SkippedRow, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


@dataclass(frozen=True)
class ImportDecision:
    outcome: ImportOutcome
    values: dict[str, Any]  # the columns to write (insert or update); empty otherwise


def decide_import(existing: Subscriber | None, row: ImportRow, now: datetime) -> ImportDecision:
    """What importing `row` does to `existing` (None: not yet a subscriber).

    A new address is added (active unless the row says otherwise; a row that says
    unsubscribed, bounced or complained is kept as that, so the person is never
    mailed). A known address gets the row's name and regions where given and
    different; pending becomes active when the row says so; a row that says closed
    closes it (an opt-out elsewhere is honoured). Nothing ever re-opens a closed one.
    """
    if existing is None:
        status = row.status or SubscriberStatus.ACTIVE
        return ImportDecision(
            ImportOutcome.ADDED,
            {
                "email": row.email,
                "email_key": email_key(row.email),
                "public_id": new_public_id(),
                "name": row.name,
                "status": status.value,
                "regions": None if row.regions is None else list(row.regions),
                "signed_up_at": now,
                "confirmed_at": now if status is SubscriberStatus.ACTIVE else None,
                "status_changed_at": now,
                "status_reason": "import",
                "updated_at": now,
            },
        )
    if existing.status in CLOSED:
        return ImportDecision(ImportOutcome.SKIPPED, {})
    values: dict[str, Any] = {}
    if row.name is not None and row.name != existing.name:
        values["name"] = row.name
    if row.regions is not None and row.regions != existing.regions:
        values["regions"] = list(row.regions)
    if _status_moves(existing.status, row.status):
        assert row.status is not None
        values.update(status=row.status.value, status_changed_at=now, status_reason="import")
        if row.status is SubscriberStatus.ACTIVE:
            values["confirmed_at"] = existing.confirmed_at or now
    if not values:
        return ImportDecision(ImportOutcome.UNCHANGED, {})
    values["updated_at"] = now
    return ImportDecision(ImportOutcome.UPDATED, values)


def _status_moves(current: SubscriberStatus, wanted: SubscriberStatus | None) -> bool:
    """Whether an import moves an open subscriber from `current` to `wanted`."""
    if wanted is None or wanted is current:
        return False
    # pending -> active is a confirmation the file vouches for; active never goes back.
    return wanted in CLOSED or wanted is SubscriberStatus.ACTIVE


class _Conflict(Exception):
    """An email appeared between the read and the insert of a chunk."""


class SubscribersMixin(StoreBase):
    def add_subscriber(
        self,
        email: str,
        *,
        now: datetime,
        status: SubscriberStatus = SubscriberStatus.PENDING,
        regions: tuple[str, ...] | None = None,
        name: str | None = None,
        source: str | None = None,
    ) -> Subscriber:
        """Add `email` (already normalised); when its mailbox exists (in any spelling),
        return that subscriber unchanged."""
        now = ensure_utc(now)
        key = email_key(email)
        values = {
            "email": email,
            "email_key": key,
            "public_id": new_public_id(),
            "name": name,
            "status": status.value,
            "regions": None if regions is None else list(_check_regions(regions)),
            "source": source,
            "signed_up_at": now,
            "confirmed_at": now if status is SubscriberStatus.ACTIVE else None,
            "status_changed_at": now,
            "updated_at": now,
        }
        with self._write() as conn:
            conn.execute(self._insert_ignore(), values)
            row = (
                conn.execute(select(subscribers).where(subscribers.c.email_key == key))
                .mappings()
                .one()
            )
        return subscriber_from_row(row)

    def get_subscriber(self, email: str) -> Subscriber | None:
        """The subscriber of `email`'s mailbox, whatever the spelling; None if none."""
        return self._get_one(subscribers.c.email_key == email_key(email))

    def get_subscriber_by_public_id(self, public_id: str) -> Subscriber | None:
        return self._get_one(subscribers.c.public_id == public_id)

    def _get_one(self, where: Any) -> Subscriber | None:
        with self._read() as conn:
            row = conn.execute(select(subscribers).where(where)).mappings().first()
        return None if row is None else subscriber_from_row(row)

    def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        return self._get_one(subscribers.c.id == subscriber_id)

    def set_subscriber_status(
        self,
        subscriber_id: int,
        status: SubscriberStatus,
        *,
        now: datetime,
        reason: str | None = None,
    ) -> Subscriber:
        """Set the status (and when and why); the first activation sets confirmed_at."""
        now = ensure_utc(now)
        values: dict[str, Any] = {
            "status": status.value,
            "status_changed_at": now,
            "status_reason": None if reason is None else reason[:MAX_REASON],
            "updated_at": now,
        }
        if status is SubscriberStatus.ACTIVE:
            values["confirmed_at"] = func.coalesce(subscribers.c.confirmed_at, now)
        return self._update_one(subscriber_id, values)

    def set_subscriber_regions(
        self, subscriber_id: int, regions: tuple[str, ...] | None, *, now: datetime
    ) -> Subscriber:
        """Set the regions wanted; None means every region. An empty choice is refused."""
        value = None if regions is None else list(_check_regions(regions))
        return self._update_one(subscriber_id, {"regions": value, "updated_at": ensure_utc(now)})

    def iter_subscribers(
        self,
        *,
        status: SubscriberStatus | None = SubscriberStatus.ACTIVE,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[Subscriber]:
        """One page of subscribers with id > `after_id`, by id; `status` None: every status.

        Pass the last id of a page as `after_id` to get the next; an empty page ends.
        """
        if not 0 < limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        query = (
            select(subscribers)
            .where(subscribers.c.id > after_id)
            .order_by(subscribers.c.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(subscribers.c.status == status.value)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [subscriber_from_row(row) for row in rows]

    def count_subscribers(self) -> dict[SubscriberStatus, int]:
        """Subscribers per status; every status is present, zero when none."""
        query = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
        counts = dict.fromkeys(SubscriberStatus, 0)
        with self._read() as conn:
            for status, count in conn.execute(query):
                counts[SubscriberStatus(status)] = int(count)
        return counts

    def import_subscribers(
        self, rows: Iterable[ImportRow], *, now: datetime, source: str
    ) -> ImportResult:
        """Merge `rows` into the store with `decide_import`, a chunk per transaction.

        `rows` is consumed as it streams. A row whose email appeared earlier in the
        same call is merged with the subscriber that earlier row made.
        """
        now = ensure_utc(now)
        parts: list[ImportResult] = []
        chunk: list[ImportRow] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                parts.append(self._import_chunk(chunk, now, source))
                chunk = []
        if chunk:
            parts.append(self._import_chunk(chunk, now, source))
        return ImportResult(
            added=sum(p.added for p in parts),
            updated=sum(p.updated for p in parts),
            unchanged=sum(p.unchanged for p in parts),
            skipped=tuple(s for p in parts for s in p.skipped),
        )

    def _import_chunk(self, rows: Sequence[ImportRow], now: datetime, source: str) -> ImportResult:
        for _ in range(_CHUNK_TRIES):
            try:
                with self._write() as conn:
                    return self._import_in(conn, rows, now, source)
            except _Conflict:
                continue
        raise StoreError(
            "subscribers kept being added while importing (another import or many "
            "signups at once): run the import again, it is safe to repeat"
        )

    def _import_in(
        self, conn: Connection, rows: Sequence[ImportRow], now: datetime, source: str
    ) -> ImportResult:
        keys = list({email_key(row.email) for row in rows})
        query = select(subscribers).where(subscribers.c.email_key.in_(keys))
        if self.dialect == "postgresql":
            query = query.with_for_update()
        known = {
            r["email_key"]: subscriber_from_row(r) for r in conn.execute(query).mappings().all()
        }
        counts = dict.fromkeys(ImportOutcome, 0)
        skipped: list[SkippedRow] = []
        adds: dict[str, dict[str, Any]] = {}  # new rows go in with one statement
        for row in rows:
            key = email_key(row.email)
            if key in adds:  # the same mailbox again: merge with what we add
                self._insert_adds(conn, adds, known)
            existing = known.get(key)
            decision = decide_import(existing, row, now)
            counts[decision.outcome] += 1
            if decision.outcome is ImportOutcome.ADDED:
                adds[key] = {**decision.values, "source": source}
            elif decision.outcome is ImportOutcome.UPDATED:
                assert existing is not None and existing.id is not None
                stmt = (
                    update(subscribers)
                    .where(subscribers.c.id == existing.id)
                    .values(**decision.values)
                    .returning(subscribers)
                )
                known[key] = subscriber_from_row(conn.execute(stmt).mappings().one())
            elif decision.outcome is ImportOutcome.SKIPPED:
                assert existing is not None
                skipped.append(SkippedRow(row.line, row.email, existing.status))
        self._insert_adds(conn, adds, known)
        return ImportResult(
            added=counts[ImportOutcome.ADDED],
            updated=counts[ImportOutcome.UPDATED],
            unchanged=counts[ImportOutcome.UNCHANGED],
            skipped=tuple(skipped),
        )

    def _insert_adds(
        self, conn: Connection, adds: dict[str, dict[str, Any]], known: dict[str, Subscriber]
    ) -> None:
        """Insert `adds` (then empty it) into `known`; `_Conflict` if any already exists."""
        if not adds:
            return
        inserted = conn.execute(
            self._insert_ignore().returning(subscribers), list(adds.values())
        ).mappings()
        for row in inserted:
            known[row["email_key"]] = subscriber_from_row(row)
        if any(key not in known for key in adds):
            raise _Conflict
        adds.clear()

    def _insert_ignore(self) -> Any:
        """INSERT ... ON CONFLICT (email_key) DO NOTHING, on either backend."""
        return self._insert(subscribers).on_conflict_do_nothing(index_elements=["email_key"])

    def _update_one(self, subscriber_id: int, values: dict[str, Any]) -> Subscriber:
        stmt = (
            update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(**values)
            .returning(subscribers)
        )
        with self._write() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return subscriber_from_row(row)


def subscriber_from_row(row: RowMapping) -> Subscriber:
    regions = row["regions"]
    return Subscriber(
        email=row["email"],
        status=SubscriberStatus(row["status"]),
        regions=None if regions is None else tuple(regions),
        name=row["name"],
        signed_up_at=row["signed_up_at"],
        source=row["source"],
        id=row["id"],
        confirmed_at=row["confirmed_at"],
        status_changed_at=row["status_changed_at"],
        status_reason=row["status_reason"],
        updated_at=row["updated_at"],
        public_id=row["public_id"],
    )


def _check_regions(regions: tuple[str, ...]) -> tuple[str, ...]:
    """Regions without repeats, in the order given; an empty choice is refused."""
    unique = tuple(dict.fromkeys(regions))
    if not unique:
        raise UsageError(
            "choose at least one region (no choice at all means every region), or unsubscribe"
        )
    return unique
