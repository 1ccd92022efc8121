"""Signed link tokens: made and read with one injected clock; everything else refused."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from bot.config import parse_config
from bot.errors import ConfigError, TokenError
from bot.render.tokens import SUBSTITUTIONS
from bot.tokens import (
    MAX_TOKEN_LENGTH,
    Purpose,
    TokenClaims,
    TokenExpired,
    _sign,
    _stamp,
    confirm_url,
    email_digest,
    link_url,
    make_token,
    read_token,
    secret_key_from_env,
    subscriber_links,
)
from bot.types import Subscriber, SubscriberStatus

SECRET = "s" * 40
OTHER_SECRET = "t" * 40
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MAX_AGE = timedelta(days=7)
EMAIL = "ann@example.org"

CONFIG = """\
newsletter:
  publication: Example
  site_url: https://example.org
  sender: {email: news@example.org}
  postal_address: 1 Example Street
  base_url: https://news.example.org/
feeds:
  - name: main
    url: https://example.org/feed.rss
regions:
  - name: Europe
"""


PUBLIC_ID = "q3v7Yt0bS1mLkR2pXw9aZg"  # what `new_public_id` makes: 128 random bits


def token() -> str:
    return make_token(SECRET, Purpose.UNSUBSCRIBE, PUBLIC_ID, EMAIL, NOW)


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` changed to another token character."""
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


def payload_altered() -> str:
    t = token()
    return flip(t, 2)


def signature_altered() -> str:
    t = token()
    return flip(t, len(t) - 3)


def timestamp_altered() -> str:
    payload, stamp, sig = token().split(".")
    return f"{payload}.{flip(stamp, 1)}.{sig}"


def other_person() -> str:
    # a genuine token's signature pasted onto another person's payload
    mine = make_token(SECRET, Purpose.UNSUBSCRIBE, 43, "bob@example.org", NOW).split(".")
    theirs = token().split(".")
    return ".".join([mine[0], theirs[1], theirs[2]])


ACCEPT: list[tuple[str, Callable[[], str], datetime]] = [
    ("fresh", token, NOW),
    ("at max_age exactly", token, NOW + MAX_AGE),
    ("made a little in the future (skew)", token, NOW - timedelta(minutes=4)),
]


@pytest.mark.parametrize(("case", "make", "read_at"), ACCEPT, ids=[c[0] for c in ACCEPT])
def test_valid_tokens_read_back(case: str, make: Callable[[], str], read_at: datetime) -> None:
    claims = read_token(SECRET, Purpose.UNSUBSCRIBE, make(), max_age=MAX_AGE, now=read_at)
    assert claims == TokenClaims(PUBLIC_ID, email_digest(SECRET, EMAIL), Purpose.UNSUBSCRIBE, NOW)
    assert claims.names(SECRET, EMAIL)
    assert not claims.names(SECRET, "bob@example.org")


REFUSE: list[tuple[str, Callable[[], str], str, Purpose, datetime, type[TokenError]]] = [
    ("payload altered", payload_altered, SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("signature altered", signature_altered, SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("timestamp altered", timestamp_altered, SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("someone else's payload", other_person, SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("wrong purpose", token, SECRET, Purpose.PREFERENCES, NOW, TokenError),
    ("confirm with unsubscribe", token, SECRET, Purpose.CONFIRM, NOW, TokenError),
    ("wrong secret", token, OTHER_SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    (
        "expired at max_age + 1s",
        token,
        SECRET,
        Purpose.UNSUBSCRIBE,
        NOW + MAX_AGE + timedelta(seconds=1),
        TokenExpired,
    ),
    (
        "from the future",
        token,
        SECRET,
        Purpose.UNSUBSCRIBE,
        NOW - timedelta(hours=1),
        TokenError,
    ),
    ("empty", lambda: "", SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("garbage", lambda: "not-a-token", SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("dots only", lambda: "..", SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("bad characters", lambda: token() + "<script>", SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    ("bad base64", lambda: "!!!." + token(), SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
    (
        "overlong",
        lambda: "A" * (MAX_TOKEN_LENGTH + 1),
        SECRET,
        Purpose.UNSUBSCRIBE,
        NOW,
        TokenError,
    ),
    ("huge", lambda: token() * 100_000, SECRET, Purpose.UNSUBSCRIBE, NOW, TokenError),
]


@pytest.mark.parametrize(
    ("case", "make", "secret", "purpose", "read_at", "error"), REFUSE, ids=[c[0] for c in REFUSE]
)
def test_bad_tokens_are_refused(
    case: str,
    make: Callable[[], str],
    secret: str,
    purpose: Purpose,
    read_at: datetime,
    error: type[TokenError],
) -> None:
    with pytest.raises(TokenError) as info:
        read_token(secret, purpose, make(), max_age=MAX_AGE, now=read_at)
    assert type(info.value) is error
    assert "link" in str(info.value)  # a message for the page, not a traceback


def test_each_purpose_makes_a_different_token() -> None:
    made = {make_token(SECRET, p, 42, EMAIL, NOW) for p in Purpose}
    assert len(made) == len(Purpose)


def test_signed_payload_of_wrong_shape_is_refused() -> None:
    # signed with our key and salt, but not an [id, digest] pair: refused, never a crash
    from bot.tokens import _serializer

    signer = _serializer(SECRET, Purpose.CONFIRM, NOW)
    digest = email_digest(SECRET, EMAIL)
    assert read_token(SECRET, Purpose.CONFIRM, signer.dumps([1, digest]), max_age=MAX_AGE, now=NOW)
    wrong = ({"id": 1}, [1], [True, digest], ["", digest], ["x" * 65, digest], [1, 2], [1, EMAIL])
    for payload in wrong:
        with pytest.raises(TokenError):
            read_token(SECRET, Purpose.CONFIRM, signer.dumps(payload), max_age=MAX_AGE, now=NOW)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("short", "too short"),
        ("x" * 31, "too short"),
    ],
)
def test_secret_key_from_env_refuses(
    monkeypatch: pytest.MonkeyPatch, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv("ROUNDUP_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("ROUNDUP_SECRET_KEY", value)
    with pytest.raises(ConfigError, match=message) as info:
        secret_key_from_env()
    assert info.value.exit_code == 2
    assert "ROUNDUP_SECRET_KEY" in str(info.value)


def test_secret_key_from_env_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", "k" * 32)
    assert secret_key_from_env() == "k" * 32


def test_subscriber_links_are_tokens_under_base_url() -> None:
    config = parse_config(CONFIG)
    sub = Subscriber(email=EMAIL, status=SubscriberStatus.ACTIVE, id=42, public_id=PUBLIC_ID)
    links = subscriber_links(config, SECRET, sub, NOW)
    assert set(links) == set(SUBSTITUTIONS)
    assert links["email"] == EMAIL
    for key, purpose in (
        ("unsubscribe_url", Purpose.UNSUBSCRIBE),
        ("preferences_url", Purpose.PREFERENCES),
    ):
        url = urlsplit(links[key])
        assert (url.scheme, url.netloc) == ("https", "news.example.org")
        prefix, tok = url.path.rsplit("/", 1)
        assert prefix == f"/{purpose.value}"
        claims = read_token(SECRET, purpose, tok, max_age=MAX_AGE, now=NOW)
        # The random public id, never the row id (which tells the list's size).
        assert claims.subscriber_id == PUBLIC_ID and claims.names(SECRET, EMAIL)
        signed = base64.urlsafe_b64decode(tok.split(".")[0] + "==")
        assert json.loads(signed)[0] == PUBLIC_ID and b"42" not in signed
    confirm = urlsplit(confirm_url(config, SECRET, sub, NOW))
    assert confirm.path.startswith("/confirm/")


def test_links_need_a_base_url_and_a_stored_subscriber() -> None:
    config = parse_config(CONFIG.replace("  base_url: https://news.example.org/\n", ""))
    sub = Subscriber(email=EMAIL, status=SubscriberStatus.ACTIVE, id=42)
    with pytest.raises(ConfigError, match="base_url"):
        subscriber_links(config, SECRET, sub, NOW)
    with pytest.raises(ValueError, match="id"):
        subscriber_links(parse_config(CONFIG), SECRET, Subscriber(EMAIL, sub.status), NOW)


def test_a_token_does_not_carry_the_address() -> None:
    # Links end up in mail logs, proxies and forwarded emails: the address must not
    # be readable from any part of the token, however it is decoded.
    for purpose in Purpose:
        tok = make_token(SECRET, purpose, 42, EMAIL, NOW)
        assert EMAIL not in tok
        for part in tok.split("."):
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            assert b"ann" not in decoded and b"example" not in decoded


def test_the_digest_is_keyed() -> None:
    assert email_digest(SECRET, EMAIL) != email_digest("another-secret-" + "y" * 32, EMAIL)
    assert email_digest(SECRET, EMAIL) != email_digest(SECRET, "Ann@example.org")


def test_a_link_mailed_before_public_ids_still_works() -> None:
    # Links in editions already sent name the row id; they keep working for their life.
    legacy = make_token(SECRET, Purpose.UNSUBSCRIBE, 42, EMAIL, NOW)  # type: ignore[arg-type]
    claims = read_token(SECRET, Purpose.UNSUBSCRIBE, legacy, max_age=MAX_AGE, now=NOW)
    assert claims.subscriber_id == 42


# --- the fast signer is itsdangerous' format, byte for byte ---------------------------


def _itsdangerous(secret: str, purpose: Purpose, payload: object, now: datetime) -> str:
    """What itsdangerous itself makes for `payload` (the reference implementation)."""
    stamp = int(now.timestamp())

    class Stamped(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    serializer = URLSafeTimedSerializer(
        secret, salt=f"roundup.link.{purpose.value}", signer=Stamped
    )
    made: str = serializer.dumps(payload)
    return made


@pytest.mark.parametrize("purpose", list(Purpose))
def test_tokens_are_what_itsdangerous_makes(purpose: Purpose) -> None:
    rng = random.Random(purpose.value)
    for n in range(300):
        subscriber_id = rng.choice(
            [PUBLIC_ID, "-", rng.randbytes(16).hex(), 1, 42, n, 2**53, rng.getrandbits(40)]
        )
        email = f"{rng.getrandbits(32):x}.{n}@example.org"
        secret = rng.choice([SECRET, OTHER_SECRET, "ü" * 40])
        at = NOW + timedelta(seconds=rng.randrange(10**8))
        made = make_token(secret, purpose, subscriber_id, email, at)
        expected = [subscriber_id, email_digest(secret, email)]
        assert made == _itsdangerous(secret, purpose, expected, at)
        claims = read_token(secret, purpose, made, max_age=MAX_AGE, now=at)
        assert claims.subscriber_id == subscriber_id and claims.names(secret, email)


def test_long_payloads_are_compressed_as_itsdangerous_does_short_ones_stay_plain() -> None:
    stamp = _stamp(int(NOW.timestamp()))
    long = ["x" * 200, "0123456789abcdef"]
    made = _sign(SECRET, Purpose.CONFIRM, long, stamp)
    assert made.startswith(".") and made == _itsdangerous(SECRET, Purpose.CONFIRM, long, NOW)
    # Round ids of every size a row id reaches: plain, as itsdangerous leaves them.
    for subscriber_id in [10**k for k in range(10)] + [int("9" * k) for k in range(1, 10)]:
        made = make_token(SECRET, Purpose.CONFIRM, subscriber_id, EMAIL, NOW)
        payload = [subscriber_id, email_digest(SECRET, EMAIL)]
        assert made == _itsdangerous(SECRET, Purpose.CONFIRM, payload, NOW)
    # A short payload zlib could shorten (no id of ours is like it) is left plain,
    # which is still the format: itsdangerous reads it back.
    odd = _sign(SECRET, Purpose.CONFIRM, [10**40, "0123456789abcdef"], stamp)
    assert odd.startswith("W") and odd != _itsdangerous(
        SECRET, Purpose.CONFIRM, [10**40, "0123456789abcdef"], NOW
    )
    assert (
        read_token(SECRET, Purpose.CONFIRM, odd, max_age=MAX_AGE, now=NOW).subscriber_id == 10**40
    )


def test_subscriber_links_sign_what_link_url_signs() -> None:
    config = parse_config(CONFIG)
    sub = Subscriber(email=EMAIL, status=SubscriberStatus.ACTIVE, id=42, public_id=PUBLIC_ID)
    links = subscriber_links(config, SECRET, sub, NOW)
    assert links["unsubscribe_url"] == link_url(config, SECRET, Purpose.UNSUBSCRIBE, sub, NOW)
    assert links["preferences_url"] == link_url(config, SECRET, Purpose.PREFERENCES, sub, NOW)
