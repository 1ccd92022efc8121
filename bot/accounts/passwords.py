"""Password hashes: argon2id through argon2-cffi, with its recommended parameters.

What it does: hashes a password with argon2id (the hash carries its salt and
parameters),
checks a password against a hash in constant time, and says when a hash was made
with older parameters. A password is never stored, logged or returned.
What it does not do: decide who may log in (`bot.accounts.users`).
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.errors import UsageError

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing cost must not be decided by whoever types the password

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a login
# costs tens of milliseconds on one core, a guess costs an attacker as much.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"the password is too long: use at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


@cache
def dummy_hash() -> str:
    """A hash checked when the account does not exist, so that the answer takes as
    long as for a real account and does not tell which names exist."""
    return _HASHER.hash(secrets.token_urlsafe(16))
