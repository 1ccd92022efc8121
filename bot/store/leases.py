"""Leases: named, expiring locks that keep two processes from doing one job.

What it does: grants a lease to one holder at a time with a single conditional
``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired-or-ours RETURNING``, atomic on
SQLite (one statement under the write lock) and PostgreSQL (row lock on conflict);
extends a lease its holder asks for again; releases it; tells who holds it.
What it does not do: renew leases in the background or wait for one; callers (the
scheduler, a send) decide what to do when they do not get it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import UTCDateTime, leases


class LeasesMixin(StoreBase):
    def acquire_lease(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or extend the lease `name` until now + ttl; False while another holds it."""
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
            where=or_(leases.c.expires_at <= now, leases.c.holder == holder),
        ).returning(leases.c.holder)
        with self._write() as conn:
            won = conn.execute(stmt).scalar_one_or_none()
        return won == holder

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up; does nothing unless `holder` holds it."""
        with self._write() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease at `now`; None when it is free or expired."""
        query = select(leases.c.holder).where(
            leases.c.name == name, leases.c.expires_at > ensure_utc(now)
        )
        with self._read() as conn:
            holder: str | None = conn.execute(query).scalar_one_or_none()
        return holder
