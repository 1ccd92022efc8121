"""Leases: named, expiring locks that keep two processes from doing one job.

What it does: grants a lease to one holder at a time with a single conditional
``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired-or-ours RETURNING``, atomic on
SQLite (one statement under the write lock) and PostgreSQL (row lock on conflict);
extends a lease its holder asks for again; hands it over from a named holder (one
whose process ended, or whose lease an operator breaks); releases it; tells who holds
it and until when.
What it does not do: renew leases in the background or wait for one; callers (the
scheduler, a send) decide what to do when they do not get it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import UTCDateTime, leases
from bot.types import LeaseState


class LeasesMixin(StoreBase):
    def acquire_lease(
        self,
        name: str,
        holder: str,
        ttl: timedelta,
        now: datetime,
        *,
        take_from: str | None = None,
    ) -> bool:
        """Take or extend the lease `name` until now + ttl; False while another holds it.

        `take_from` names a holder whose lease may be taken before it lapses (its
        process has ended, or an operator breaks the lease); the condition is part of
        the one statement, so of two claimants replacing the same holder one wins.
        """
        if ttl <= timedelta(0):
            raise ValueError("a lease's ttl must be positive")
        now = ensure_utc(now)
        stmt = self._upsert(
            leases,
            {"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl},
            keys=["name"],
            update=["holder", "expires_at"],
            # An extension keeps the original acquisition time; a takeover starts anew.
            also_set={
                "acquired_at": case(
                    (leases.c.holder == holder, leases.c.acquired_at),
                    else_=literal(now, UTCDateTime()),
                )
            },
            where=or_(
                leases.c.expires_at <= now,
                leases.c.holder == holder,
                *([leases.c.holder == take_from] if take_from is not None else []),
            ),
        ).returning(leases.c.holder)
        with self._write() as conn:
            won = conn.execute(stmt).scalar_one_or_none()
        return won == holder

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up; does nothing unless `holder` holds it."""
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_state(self, name: str) -> LeaseState | None:
        """The lease `name` as stored, lapsed or not; None when nobody took it."""
        query = select(leases).where(leases.c.name == name)
        with self._read() as conn:
            row = conn.execute(query).mappings().one_or_none()
        if row is None:
            return None
        return LeaseState(
            name=row["name"],
            holder=row["holder"],
            acquired_at=ensure_utc(row["acquired_at"]),
            expires_at=ensure_utc(row["expires_at"]),
        )

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease at `now`; None when it is free or expired."""
        query = select(leases.c.holder).where(
            leases.c.name == name, leases.c.expires_at > ensure_utc(now)
        )
        with self._read() as conn:
            holder: str | None = conn.execute(query).scalar_one_or_none()
        return holder
