"""Desk accounts: users and roles, password hashes, sessions, the login rate limit.

- `passwords`: argon2id hashing and checking (argon2-cffi).
- `users`: add, list, disable, change a password, authenticate (on the store).
- `sessions`: the signed session cookie and the pure checks of its age (idle and
  absolute limits) and of the user behind it.
- `limits`: the pure decision whether a login may be tried now.

It does not serve pages (`bot.web.desk`) or print anything (`bot.cli.users`).
"""

from __future__ import annotations

from bot.accounts.limits import login_allowed, scopes
from bot.accounts.passwords import hash_password, needs_rehash, verify_password
from bot.accounts.sessions import Session, SessionCodec, session_problem
from bot.accounts.users import (
    LoginRefused,
    add_user,
    authenticate,
    can,
    disable_user,
    find_user,
    list_users,
    set_password,
    valid_name,
)

__all__ = [
    "LoginRefused",
    "Session",
    "SessionCodec",
    "add_user",
    "authenticate",
    "can",
    "disable_user",
    "find_user",
    "hash_password",
    "list_users",
    "login_allowed",
    "needs_rehash",
    "scopes",
    "session_problem",
    "set_password",
    "valid_name",
    "verify_password",
]
