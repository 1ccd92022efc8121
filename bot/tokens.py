"""Signed, expiring link tokens for subscribers (confirm, unsubscribe, preferences).

What it does: makes a URL-safe token that names a subscriber (its random public id,
never the row id, and a keyed digest of the email: the address itself never appears
in a link, a header or a log) for one
purpose, signed with `ROUNDUP_SECRET_KEY` (itsdangerous, a salt per purpose, so an
unsubscribe token cannot confirm or open preferences) and stamped with the time it
was made, read from the injected `now`; reads one back, refusing anything forged,
altered, for another purpose, too long, or older than `max_age`; builds the
per-recipient link values a send substitutes into each email.
What it does not do: look the subscriber up. The claims carry the digest of the
email the token was made for; the caller checks it against the subscriber's current
email (`TokenClaims.names`), so a token stops working once the address changed.

Making a token is on the send's hot path (two per recipient), so it is done here
in a few C calls, in itsdangerous' `URLSafeTimedSerializer` format: compact JSON
(zlib-compressed when that saves 2 bytes, tried from 64 bytes on), the timestamp,
HMAC-SHA1 under the ``django-concat`` key of the purpose's salt. For our payloads
(an id and a digest) that is byte for byte what itsdangerous makes, which
tests/test_tokens.py checks. Reading stays with itsdangerous.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from bot.clock import ensure_utc
from bot.config import Config
from bot.errors import ConfigError, TokenError
from bot.types import Subscriber

SECRET_ENV = "ROUNDUP_SECRET_KEY"
MIN_SECRET_LENGTH = 32
# Hex characters of the keyed email digest in a token: 64 bits tell one address
# from another; a forger needs the secret anyway.
DIGEST_CHARS = 16
# An honest token is well under this; anything longer is refused before it is
# decoded, so a caller cannot make us inflate it.
MAX_TOKEN_LENGTH = 512
MAX_PUBLIC_ID = 64
# Tokens made by another process whose clock runs a little ahead are still fine.
CLOCK_SKEW = timedelta(minutes=5)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")
_JSON = json.JSONEncoder(separators=(",", ":"))  # itsdangerous' compact JSON
_COMPRESS_FROM = 64  # bytes of JSON payload; see _sign

INVALID = "this link is not valid: it may have been copied incompletely or changed"
EXPIRED = "this link has expired: ask for a new one"


class Purpose(Enum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


class TokenExpired(TokenError):
    """The token was genuine but is older than the link's lifetime."""


@dataclass(frozen=True)
class TokenClaims:
    # The subscriber's public id; an int is a row id, in links made before public ids
    # (still honoured: those links were mailed and must keep working).
    subscriber_id: str | int
    email_digest: str  # `email_digest(secret, email)` of the address it was made for
    purpose: Purpose
    issued_at: datetime

    def names(self, secret: str, email: str) -> bool:
        """True when the token was made for `email` (compared in constant time)."""
        return hmac.compare_digest(self.email_digest, email_digest(secret, email))


def email_digest(secret: str, email: str) -> str:
    """A short keyed digest of an address: a link can name it without showing it."""
    mac = hmac.digest(secret.encode("utf-8"), b"roundup.email\0" + email.encode("utf-8"), "sha256")
    return mac.hex()[:DIGEST_CHARS]


def make_token(secret: str, purpose: Purpose, public_id: str, email: str, now: datetime) -> str:
    """A token naming the subscriber `public_id` and (by digest) `email` for `purpose`,
    issued at `now`."""
    payload = [public_id, email_digest(secret, email)]
    return _sign(secret, purpose, payload, _stamp(int(ensure_utc(now).timestamp())))


def _sign(secret: str, purpose: Purpose, payload: list[Any], stamp: bytes) -> str:
    """``payload.timestamp.signature``, as `URLSafeTimedSerializer.dumps` writes it."""
    data = _JSON.encode(payload).encode("utf-8")
    body = _b64(data)
    # itsdangerous tries zlib on every payload and keeps it when it saves 2 bytes.
    # A short payload of ours never gains (zlib's framing alone is 6 bytes; a random
    # digest and a row id hold no long repeats), and the try costs more than all
    # the rest of a token: below _COMPRESS_FROM bytes it is not made. A plain
    # payload is the format too; readers take both.
    if len(data) >= _COMPRESS_FROM:
        packed = zlib.compress(data)
        if len(packed) < len(data) - 1:
            body = b"." + _b64(packed)
    value = body + b"." + stamp
    signature = hmac.digest(_signing_key(secret, purpose), value, "sha1")
    return (value + b"." + _b64(signature)).decode("ascii")


@lru_cache(maxsize=32)
def _signing_key(secret: str, purpose: Purpose) -> bytes:
    # itsdangerous' default: key_derivation "django-concat", digest SHA-1.
    salt = f"roundup.link.{purpose.value}".encode()
    return hashlib.sha1(salt + b"signer" + secret.encode("utf-8")).digest()


@lru_cache(maxsize=8)
def _stamp(seconds: int) -> bytes:
    return _b64(struct.pack(">Q", seconds).lstrip(b"\0"))


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: timedelta, now: datetime
) -> TokenClaims:
    """The claims of `token`; `TokenExpired` when older than `max_age`, else `TokenError`
    for anything forged, altered, for another purpose, malformed or too long."""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_CHARS.fullmatch(token):
        raise TokenError(INVALID)
    now = ensure_utc(now)
    try:
        payload, signed_at = _serializer(secret, purpose, now).loads(token, return_timestamp=True)
    except (BadData, ValueError, OverflowError):
        raise TokenError(INVALID) from None
    claims = _claims(payload, purpose, ensure_utc(signed_at))
    age = now - claims.issued_at
    if age > max_age:
        raise TokenExpired(EXPIRED)
    if age < -CLOCK_SKEW:
        raise TokenError(INVALID)  # signed with our key, yet from the future
    return claims


def secret_key_from_env() -> str:
    """`ROUNDUP_SECRET_KEY`; a `ConfigError` saying what to do when missing or short."""
    secret = os.environ.get(SECRET_ENV, "")
    hint = (
        f"set {SECRET_ENV} to a random string of at least {MIN_SECRET_LENGTH} characters, "
        "for example the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        " (keep it: changing it invalidates every link already sent)"
    )
    if not secret:
        raise ConfigError(f"{SECRET_ENV} is not set: {hint}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{SECRET_ENV} is too short ({len(secret)} characters): {hint}")
    return secret


def link_url(
    config: Config, secret: str, purpose: Purpose, subscriber: Subscriber, now: datetime
) -> str:
    """The absolute link `/{purpose}/{token}` under `newsletter.base_url`."""
    if subscriber.id is None:
        raise ValueError("a link needs a stored subscriber (one with an id)")
    # No public id: not a stored subscriber (a test copy to any address); the link
    # then names nobody, and the web app says so.
    token = make_token(secret, purpose, subscriber.public_id or "-", subscriber.email, now)
    return f"{_links_base(config)}/{purpose.value}/{token}"


def subscriber_links(
    config: Config, secret: str, subscriber: Subscriber, now: datetime
) -> dict[str, str]:
    """The per-recipient substitution values of one subscriber (`SUBSTITUTIONS` keys).

    A send makes these for every recipient: the digest, the timestamp and the base
    URL are worked out once for both links.
    """
    if subscriber.id is None:
        raise ValueError("a link needs a stored subscriber (one with an id)")
    base = _links_base(config)
    payload = [subscriber.public_id or "-", email_digest(secret, subscriber.email)]
    stamp = _stamp(int(ensure_utc(now).timestamp()))
    unsubscribe = _sign(secret, Purpose.UNSUBSCRIBE, payload, stamp)
    preferences = _sign(secret, Purpose.PREFERENCES, payload, stamp)
    return {
        "unsubscribe_url": f"{base}/unsubscribe/{unsubscribe}",
        "preferences_url": f"{base}/preferences/{preferences}",
        "email": subscriber.email,
    }


def confirm_url(config: Config, secret: str, subscriber: Subscriber, now: datetime) -> str:
    """The double opt-in confirmation link of a pending subscriber."""
    return link_url(config, secret, Purpose.CONFIRM, subscriber, now)


def _links_base(config: Config) -> str:
    base = config.newsletter.base_url
    if base is None:
        raise ConfigError(
            "newsletter.base_url is not set in the config: emails need it for their "
            "unsubscribe, preferences and confirmation links (where the web app is reached)"
        )
    return str(base).rstrip("/")


def _serializer(secret: str, purpose: Purpose, now: datetime) -> URLSafeTimedSerializer:
    stamp = int(ensure_utc(now).timestamp())

    class _Signer(TimestampSigner):
        # The one clock: a token is stamped with the `now` we are given.
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret, salt=f"roundup.link.{purpose.value}", signer=_Signer)


def _claims(payload: Any, purpose: Purpose, issued_at: datetime) -> TokenClaims:
    # A valid signature means we made it, but check the shape anyway: a token made
    # by another version of roundup with the same key must not crash a page.
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], (int, str))
        or isinstance(payload[0], bool)
        or (isinstance(payload[0], str) and not 0 < len(payload[0]) <= MAX_PUBLIC_ID)
        or not isinstance(payload[1], str)
        or len(payload[1]) != DIGEST_CHARS
    ):
        raise TokenError(INVALID)
    return TokenClaims(
        subscriber_id=payload[0],
        email_digest=payload[1],
        purpose=purpose,
        issued_at=issued_at.astimezone(UTC),
    )
