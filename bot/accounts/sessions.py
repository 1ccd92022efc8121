"""Desk sessions: a signed cookie, and the pure checks that end a session.

What it does: encodes a `Session` (user name, the user's session epoch, a random
session id, when it was issued and when it was last used) into a value signed with
the app's secret (itsdangerous), decodes it (None when forged or malformed), and
decides whether a session still holds: not past the idle or absolute limit, the
user exists, is not disabled and has not had every session ended since
(`session_epoch`, counted up by disable and password changes).
What it does not do: set cookies (`bot.web.auth`) or read the store.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import DeskConfig
from bot.types import User

MAX_COOKIE = 1024


@dataclass(frozen=True)
class Session:
    user: str
    epoch: int
    sid: str  # random: ties the CSRF token to this session
    issued: int  # unix seconds
    seen: int  # unix seconds of the last request

    @classmethod
    def start(cls, user: User, now: datetime) -> Session:
        at = int(now.timestamp())
        return cls(user.name, user.session_epoch, secrets.token_urlsafe(18), at, at)

    def touched(self, now: datetime) -> Session:
        return replace(self, seen=int(now.timestamp()))

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued, UTC)


class SessionCodec:
    """Signs and reads session cookies with the app's secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="roundup-desk-session")

    def encode(self, session: Session) -> str:
        return self._serializer.dumps(
            [session.user, session.epoch, session.sid, session.issued, session.seen]
        )

    def decode(self, value: str | None) -> Session | None:
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            data = self._serializer.loads(value)
        except BadSignature:
            return None
        if not isinstance(data, list) or len(data) != 5:
            return None
        user, epoch, sid, issued, seen = data
        if not (isinstance(user, str) and isinstance(sid, str)):
            return None
        if not all(isinstance(n, int) for n in (epoch, issued, seen)):
            return None
        return Session(user, epoch, sid, issued, seen)


def session_problem(
    session: Session, user: User | None, now: datetime, desk: DeskConfig
) -> str | None:
    """Why the session no longer holds, or None when it does."""
    at = now.timestamp()
    if user is None or user.disabled or user.session_epoch != session.epoch:
        return "ended"
    if at - session.issued > desk.session_max.total_seconds():
        return "expired"
    if at - session.seen > desk.session_idle.total_seconds():
        return "idle"
    if session.seen > at + 60:  # from the future: not ours
        return "ended"
    return None
