"""The delivery ledger: an edition's recipients in batches, each batch a row with a state.

What it does: plans every batch of an edition in one transaction (recipients are
streamed in, grouped by region set, cut into batches of at most `batch_size`; each
recipient lands in exactly one batch, which the primary key of `batch_recipients`
enforces), claims a batch before its request is made (``pending -> in_flight``,
committed first, so a crash leaves evidence), records how the request ended
(``accepted``, ``failed``, ``ambiguous``), turns batches found ``in_flight`` after a
crash into ``ambiguous``, confirms an ambiguous batch that a delivery event proves
went out, lists batches and a batch's recipients, and counts.
What it does not do: choose recipients or region sets, render, or send
(`bot.send.runner` does, and decides what a resume may resend).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from bot.clock import ensure_utc
from bot.errors import SendError
from bot.store.base import StoreBase
from bot.store.schema import batch_recipients, batches, subscribers, webhook_events
from bot.store.subscribers import subscriber_from_row
from bot.types import Batch, BatchState, Subscriber

MAX_ERROR = 2000


@dataclass(frozen=True)
class Planned:
    """One recipient offered to the plan; `regions` None means: skip (counted)."""

    subscriber_id: int
    email: str
    regions: tuple[str, ...] | None


@dataclass(frozen=True)
class PlanResult:
    batches: int
    recipients: int
    skipped: int


@dataclass(frozen=True)
class LedgerSummary:
    """Batches and recipients of an edition by batch state."""

    batches: dict[BatchState, int] = field(default_factory=dict)
    recipients: dict[BatchState, int] = field(default_factory=dict)

    def count(self, state: BatchState) -> int:
        return self.batches.get(state, 0)

    @property
    def total_batches(self) -> int:
        return sum(self.batches.values())

    @property
    def total_recipients(self) -> int:
        return sum(self.recipients.values())


class LedgerMixin(StoreBase):
    def plan_batches(
        self,
        edition_key: str,
        recipients: Iterable[Planned],
        *,
        batch_size: int,
        now: datetime,
    ) -> PlanResult:
        """Write every batch of `edition_key` as ``pending``, in one transaction.

        `recipients` is consumed once, as it streams; at most one open batch per
        region set is held in memory. Raises SendError if the edition already has
        batches (a plan is made once; a resume uses it).
        """
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size is 1 to 1000")
        now = ensure_utc(now)
        with self._write() as conn:
            if _has_batches(conn, edition_key):
                raise SendError(
                    f"edition {edition_key} already has a delivery plan; "
                    "resume it with `roundup send EDITION --resume`"
                )
            writer = _PlanWriter(conn, edition_key, batch_size, now)
            for planned in recipients:
                writer.add(planned)
            writer.flush_all()
        return PlanResult(writer.batches, writer.recipients, writer.skipped)

    def claim_batch(
        self,
        batch_id: int,
        *,
        transport: str,
        now: datetime,
        from_states: Collection[BatchState] = (BatchState.PENDING,),
    ) -> Batch:
        """Move a batch from one of `from_states` to ``in_flight`` (attempts + 1) and
        commit, before any request is made. SendError if it is in another state."""
        now = ensure_utc(now)
        stmt = (
            update(batches)
            .where(batches.c.id == batch_id)
            .where(batches.c.state.in_([s.value for s in from_states]))
            .values(
                state=BatchState.IN_FLIGHT.value,
                attempts=batches.c.attempts + 1,
                transport=transport,
                updated_at=now,
            )
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                state = _state(conn, batch_id)
                raise SendError(
                    f"batch {batch_id} is {state or 'missing'}, not "
                    f"{' or '.join(s.value for s in from_states)}; another send may be running"
                )
            return _batch(_row(conn, batch_id))

    def mark_batch(
        self,
        batch_id: int,
        state: BatchState,
        *,
        now: datetime,
        error: str | None = None,
        message_id: str | None = None,
    ) -> Batch:
        """Record how an ``in_flight`` batch's request ended: accepted, failed or ambiguous."""
        if state not in (BatchState.ACCEPTED, BatchState.FAILED, BatchState.AMBIGUOUS):
            raise ValueError(f"a request ends accepted, failed or ambiguous, not {state.value}")
        now = ensure_utc(now)
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": now,
            "error": error[:MAX_ERROR] if error else None,
        }
        if message_id is not None:
            values["message_id"] = message_id
        if state is BatchState.ACCEPTED:
            values["accepted_at"] = now
        stmt = (
            update(batches)
            .where(batches.c.id == batch_id, batches.c.state == BatchState.IN_FLIGHT.value)
            .values(**values)
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise SendError(
                    f"batch {batch_id} is {_state(conn, batch_id) or 'missing'}, not in_flight"
                )
            return _batch(_row(conn, batch_id))

    def mark_in_flight_ambiguous(self, edition_key: str, *, now: datetime) -> list[Batch]:
        """Batches left ``in_flight`` (a send that stopped mid-request) become ambiguous."""
        stmt = (
            update(batches)
            .where(batches.c.edition_key == edition_key)
            .where(batches.c.state == BatchState.IN_FLIGHT.value)
            # updated_at stays the time of the claim, just before the request: how
            # long a batch has had to show evidence is counted from then.
            .values(
                state=BatchState.AMBIGUOUS.value,
                error="in flight when an earlier send stopped: it may have been delivered",
            )
            .returning(batches.c.id)
        )
        with self._write() as conn:
            ids = list(conn.execute(stmt).scalars())
            rows = conn.execute(select(batches).where(batches.c.id.in_(ids))).mappings()
            return sorted((_batch(r) for r in rows), key=lambda b: b.seq)

    def confirm_batch_delivered(self, batch_id: int, now: datetime) -> bool:
        """An ambiguous batch a delivery event proves was taken becomes accepted.

        True when it changed; a batch in any other state is left alone (False).
        """
        now = ensure_utc(now)
        stmt = (
            update(batches)
            .where(batches.c.id == batch_id, batches.c.state == BatchState.AMBIGUOUS.value)
            .values(
                state=BatchState.ACCEPTED.value,
                updated_at=now,
                accepted_at=now,
                error=None,
            )
        )
        with self._write() as conn:
            return bool(conn.execute(stmt).rowcount == 1)

    def settle_from_events(
        self, edition_key: str, events: Collection[str], *, now: datetime
    ) -> list[int]:
        """Ambiguous batches of the edition that a recorded webhook event of a kind in
        `events` names become accepted; returns their ids."""
        evidence = (
            select(webhook_events.c.batch_id)
            .where(webhook_events.c.batch_id.is_not(None))
            .where(webhook_events.c.event.in_(list(events)))
        )
        query = select(batches.c.id).where(
            batches.c.edition_key == edition_key,
            batches.c.state == BatchState.AMBIGUOUS.value,
            batches.c.id.in_(evidence),
        )
        with self._read() as conn:
            ids = list(conn.execute(query).scalars())
        return [i for i in ids if self.confirm_batch_delivered(i, now)]

    def mark_not_sent(self, batch_id: int, *, now: datetime, error: str) -> bool:
        """An ambiguous batch proven never handed over becomes failed (a resume sends
        it); False when it is not ambiguous."""
        stmt = (
            update(batches)
            .where(batches.c.id == batch_id, batches.c.state == BatchState.AMBIGUOUS.value)
            .values(state=BatchState.FAILED.value, updated_at=ensure_utc(now), error=error)
        )
        with self._write() as conn:
            return bool(conn.execute(stmt).rowcount == 1)

    def get_batch(self, batch_id: int) -> Batch | None:
        with self._read() as conn:
            row = conn.execute(select(batches).where(batches.c.id == batch_id)).mappings().first()
        return None if row is None else _batch(row)

    def list_batches(
        self, edition_key: str, states: Collection[BatchState] | None = None
    ) -> list[Batch]:
        """The edition's batches in send order (recipients not loaded)."""
        query = select(batches).where(batches.c.edition_key == edition_key)
        if states is not None:
            query = query.where(batches.c.state.in_([s.value for s in states]))
        with self._read() as conn:
            rows = conn.execute(query.order_by(batches.c.seq)).mappings().all()
        return [_batch(row) for row in rows]

    def batch_subscribers(self, batch_id: int) -> list[Subscriber]:
        """The subscribers of a batch as they are now (status, email, name), by id."""
        query = (
            select(subscribers)
            .join(batch_recipients, batch_recipients.c.subscriber_id == subscribers.c.id)
            .where(batch_recipients.c.batch_id == batch_id)
            .order_by(subscribers.c.id)
        )
        with self._read() as conn:
            return [subscriber_from_row(row) for row in conn.execute(query).mappings()]

    def batch_emails(self, batch_id: int) -> list[str]:
        """The addresses planned into a batch (as they were at planning)."""
        query = (
            select(batch_recipients.c.email)
            .where(batch_recipients.c.batch_id == batch_id)
            .order_by(batch_recipients.c.subscriber_id)
        )
        with self._read() as conn:
            return list(conn.execute(query).scalars())

    def ledger_summary(self, edition_key: str) -> LedgerSummary:
        query = (
            select(batches.c.state, func.count(), func.coalesce(func.sum(batches.c.size), 0))
            .where(batches.c.edition_key == edition_key)
            .group_by(batches.c.state)
        )
        counts: Counter[BatchState] = Counter()
        people: Counter[BatchState] = Counter()
        with self._read() as conn:
            for state, n, size in conn.execute(query):
                counts[BatchState(state)] += int(n)
                people[BatchState(state)] += int(size)
        return LedgerSummary(dict(counts), dict(people))


class _PlanWriter:
    """Groups streamed recipients by region set and writes each full batch at once."""

    def __init__(self, conn: Connection, edition_key: str, size: int, now: datetime) -> None:
        self.conn, self.edition_key, self.size, self.now = conn, edition_key, size, now
        self.open: dict[tuple[str, ...], list[Planned]] = {}
        self.batches = self.recipients = self.skipped = 0

    def add(self, planned: Planned) -> None:
        if planned.regions is None:
            self.skipped += 1
            return
        group = self.open.setdefault(planned.regions, [])
        group.append(planned)
        if len(group) >= self.size:
            self._write(planned.regions, self.open.pop(planned.regions))

    def flush_all(self) -> None:
        for regions, group in list(self.open.items()):
            self._write(regions, group)
        self.open.clear()

    def _write(self, regions: tuple[str, ...], group: list[Planned]) -> None:
        self.batches += 1
        batch_id = self.conn.execute(
            insert(batches)
            .values(
                edition_key=self.edition_key,
                seq=self.batches,
                regions=list(regions),
                state=BatchState.PENDING.value,
                size=len(group),
                attempts=0,
                created_at=self.now,
                updated_at=self.now,
            )
            .returning(batches.c.id)
        ).scalar_one()
        self.conn.execute(
            insert(batch_recipients),
            [
                {
                    "edition_key": self.edition_key,
                    "subscriber_id": p.subscriber_id,
                    "batch_id": batch_id,
                    "email": p.email,
                }
                for p in group
            ],
        )
        self.recipients += len(group)


def _has_batches(conn: Connection, edition_key: str) -> bool:
    query = select(batches.c.id).where(batches.c.edition_key == edition_key).limit(1)
    return conn.execute(query).first() is not None


def _state(conn: Connection, batch_id: int) -> str | None:
    state: str | None = conn.execute(
        select(batches.c.state).where(batches.c.id == batch_id)
    ).scalar_one_or_none()
    return state


def _row(conn: Connection, batch_id: int) -> RowMapping:
    return conn.execute(select(batches).where(batches.c.id == batch_id)).mappings().one()


def _batch(row: RowMapping) -> Batch:
    return Batch(
        id=row["id"],
        edition_key=row["edition_key"],
        regions=tuple(row["regions"] or ()),
        state=BatchState(row["state"]),
        attempts=row["attempts"],
        error=row["error"],
        message_id=row["message_id"],
        updated_at=row["updated_at"],
        seq=row["seq"],
        size=row["size"],
        transport=row["transport"],
        created_at=row["created_at"],
        accepted_at=row["accepted_at"],
    )
