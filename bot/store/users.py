"""Desk users and failed logins in the store.

What it does: inserts, reads, lists and updates desk users (name, role, email,
password hash, disabled, session epoch), records failed logins per scope and
counts them in a window, and forgets old ones.
What it does not do: hash or check passwords, decide roles or rate limits; that is
`bot.accounts`, which calls these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update

from bot.clock import ensure_utc
from bot.errors import UsageError
from bot.store.base import StoreBase
from bot.store.schema import login_failures, users
from bot.types import Role, User


class UsersMixin(StoreBase):
    def add_user(self, user: User, now: datetime) -> None:
        """Insert a user; UsageError if the name is taken."""
        now = ensure_utc(now)
        with self._write() as conn:
            taken = conn.execute(select(users.c.id).where(users.c.name == user.name)).first()
            if taken is not None:
                raise UsageError(f"a user named {user.name!r} exists already")
            conn.execute(insert(users).values(**_values(user), created_at=now, updated_at=now))

    def get_user(self, name: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).mappings().all()
        return [_user(row) for row in rows]

    def update_user(self, user: User, now: datetime) -> None:
        """Save a user's role, email, hash, disabled flag and session epoch."""
        with self._write() as conn:
            conn.execute(
                update(users)
                .where(users.c.name == user.name)
                .values(**_values(user), updated_at=ensure_utc(now))
            )

    def record_login_failure(self, scopes: list[str], now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                insert(login_failures), [{"scope": s, "at": ensure_utc(now)} for s in scopes]
            )

    def login_failures_since(self, scope: str, since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(login_failures)
            .where(login_failures.c.scope == scope, login_failures.c.at > ensure_utc(since))
        )
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def clear_login_failures(self, scope: str) -> None:
        with self._write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.scope == scope))

    def forget_login_failures(self, before: datetime) -> None:
        with self._write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at <= ensure_utc(before)))


def _values(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "email": user.email,
        "password_hash": user.password_hash,
        "disabled": user.disabled,
        "session_epoch": user.session_epoch,
    }


def _user(row: RowMapping) -> User:
    return User(
        name=row["name"],
        role=Role(row["role"]),
        email=row["email"],
        password_hash=row["password_hash"],
        disabled=bool(row["disabled"]),
        session_epoch=int(row["session_epoch"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
