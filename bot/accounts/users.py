"""Desk users on the store: add, list, disable, change a password, log in.

What it does: creates users with a role and an argon2id hash, ends every session
of a user at once when the user is disabled or the password changes (the session
epoch counts up), checks a login against the rate limit and the hash (the answer
is the same whether or not the account exists), and says what a role may do.
What it does not do: prompt for passwords (`bot.cli.users`) or set cookies.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from bot.accounts.limits import login_allowed, scopes
from bot.accounts.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from bot.config import DeskConfig
from bot.errors import NotFoundError, RoundupError, UsageError
from bot.store import Store
from bot.types import Role, User

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")

# What each role may do on the desk; ops may do everything an editor may.
_EDITOR = frozenset({"view", "edit", "approve", "reject", "send_test"})
_OPS = _EDITOR | {"poll", "draft", "pause", "send", "resume", "retry"}
PERMISSIONS: dict[Role, frozenset[str]] = {Role.EDITOR: _EDITOR, Role.OPS: _OPS}


class LoginRefused(RoundupError):
    """Wrong name or password, or too many tries: deliberately the same message."""

    def __init__(self, *, limited: bool) -> None:
        super().__init__(
            "too many failed logins: wait a few minutes and try again"
            if limited
            else "the name or password is not right"
        )
        self.limited = limited


def can(user: User, action: str) -> bool:
    return action in PERMISSIONS[user.role]


def valid_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid user name: use 1-64 lower-case letters, digits, . _ -"
        )
    return name


def _valid_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if not _EMAIL.match(email):
        raise UsageError(f"{email!r} is not an email address")
    return email


def add_user(
    store: Store, name: str, role: Role, password: str, now: datetime, *, email: str | None = None
) -> User:
    user = User(
        name=valid_name(name),
        role=role,
        password_hash=hash_password(password),
        email=_valid_email(email),
    )
    store.add_user(user, now)
    return user


def find_user(store: Store, name: str) -> User | None:
    return store.get_user(name)


def list_users(store: Store) -> list[User]:
    return store.list_users()


def _existing(store: Store, name: str) -> User:
    user = store.get_user(name)
    if user is None:
        raise NotFoundError(f"no user named {name!r}; list them with `roundup users list`")
    return user


def disable_user(store: Store, name: str, now: datetime) -> User:
    """Disable a user: every session of theirs ends at once."""
    user = _existing(store, name)
    changed = replace(user, disabled=True, session_epoch=user.session_epoch + 1)
    store.update_user(changed, now)
    return changed


def set_password(store: Store, name: str, password: str, now: datetime) -> User:
    """A new password; the user's other sessions end."""
    user = _existing(store, name)
    changed = replace(
        user, password_hash=hash_password(password), session_epoch=user.session_epoch + 1
    )
    store.update_user(changed, now)
    return changed


def authenticate(
    store: Store, desk: DeskConfig, name: str, password: str, address: str, now: datetime
) -> User:
    """The user, if the login may be tried now and the password is right."""
    account, client = scopes(name, address)
    since = now - desk.login_window
    # A refused attempt is not recorded: a flood cannot grow the table past the limits.
    if not login_allowed(
        store.login_failures_since(account, since), store.login_failures_since(client, since), desk
    ):
        raise LoginRefused(limited=True)
    user = store.get_user(name.strip())
    ok = verify_password(user.password_hash if user else dummy_hash(), password)
    if user is None or not ok or user.disabled:
        store.record_login_failure([account, client], now)
        raise LoginRefused(limited=False)
    store.clear_login_failures(account)
    # Failures older than the window count for nothing: forget them.
    store.forget_login_failures(since)
    if needs_rehash(user.password_hash):
        user = replace(user, password_hash=hash_password(password))
        store.update_user(user, now)
    return user
