"""The login rate limit, as pure functions: which counters a login touches, and
whether it may be tried with the failures counted so far.

Failures are counted per account name (whether the account exists or not, so the
answer reveals nothing) and per client address, within `desk.login_window`.
"""

from __future__ import annotations

from bot.config import DeskConfig


def scopes(name: str, address: str) -> tuple[str, str]:
    """The two counters of a login: its account and its client address."""
    return f"user:{name.casefold()[:200]}", f"addr:{address[:100]}"


def login_allowed(account_failures: int, address_failures: int, desk: DeskConfig) -> bool:
    return account_failures < desk.login_per_account and address_failures < desk.login_per_address
