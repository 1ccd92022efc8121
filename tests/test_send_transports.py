"""The transports: sendgrid against a SendGrid-compatible server on 127.0.0.1, the outbox
as an mbox file, and the pure decisions behind retries and the choice of transport."""

from __future__ import annotations

import mailbox
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.config import Config, parse_config
from bot.errors import ConfigError
from bot.render.tokens import token
from bot.send import Message, OutboxTransport, Recipient, SendGridTransport, retry, transport_name
from bot.send.plan import unsubscribe_headers
from bot.send.sendgrid_api import request_body
from bot.types import BatchState
from tests.sendgrid_server import API_KEY, SendGridServer, mail_send_validator

CONFIG = """
newsletter:
  publication: Test Statecraft
  site_url: https://example.org
  base_url: https://news.example.org
  sender: {email: news@example.org, name: The Round-Up}
  reply_to: editors@example.org
  postal_address: 1 Example Street, Washington, DC
  unsubscribe_mailto: leave@example.org
feeds:
  - {name: main, url: "https://example.org/feed"}
regions:
  - name: Middle East
  - name: Europe
send:
  categories: [roundup, weekly]
  max_attempts: 3
  retry_base: 1
  retry_max: 30
  request_timeout: 0.5
"""


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG, "test-config.yaml")


@pytest.fixture
def server() -> Iterator[SendGridServer]:
    with SendGridServer() as running:
        yield running


def message(**custom: str) -> Message:
    unsub = token("unsubscribe_url")
    return Message(
        subject="Weekly Round-Up: 24 November",
        html=f'<p>Hello <a href="{unsub}">leave</a> {token("email")}</p>',
        text=f"Hello. Leave: {unsub} ({token('email')})",
        headers=unsubscribe_headers(parse_config(CONFIG, "c.yaml")),
        categories=("roundup", "weekly"),
        custom_args=custom or {"edition": "2026-W48", "batch": "7"},
    )


def recipients(n: int) -> list[Recipient]:
    return [
        Recipient(
            f"reader{i}@example.org",
            f"Reader {i}" if i % 2 else None,
            {
                "unsubscribe_url": f"https://news.example.org/unsubscribe/tok{i}",
                "preferences_url": f"https://news.example.org/preferences/tok{i}",
                "email": f"reader{i}@example.org",
            },
        )
        for i in range(n)
    ]


class Waits:
    """An injected sleep: records the waits instead of sleeping them."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def sendgrid(
    config: Config, server: SendGridServer, waits: Waits, **kw: object
) -> SendGridTransport:
    return SendGridTransport(
        config, str(kw.get("key", API_KEY)), host=server.url, sleep=waits, jitter=lambda: 0.0
    )


# --- sendgrid -----------------------------------------------------------------


def test_a_batch_is_one_valid_request_with_one_personalization_each(
    config: Config, server: SendGridServer
) -> None:
    waits = Waits()
    result = sendgrid(config, server, waits).send(message(), recipients(3))
    assert result.state is BatchState.ACCEPTED and result.attempts == 1
    (request,) = server.accepted
    assert result.message_id == request.message_id
    assert server.invalid == []
    body = request.body
    assert body is not None
    assert [p["to"] for p in body["personalizations"]] == [
        [{"email": "reader0@example.org"}],
        [{"email": "reader1@example.org", "name": "Reader 1"}],
        [{"email": "reader2@example.org"}],
    ]
    first = body["personalizations"][0]
    assert first["substitutions"][token("unsubscribe_url")].endswith("/unsubscribe/tok0")
    assert first["custom_args"] == {"edition": "2026-W48", "batch": "7"}
    # SendGrid substitutes only in subject and content: the header URL is filled here.
    assert first["headers"] == {
        "List-Unsubscribe": "<https://news.example.org/unsubscribe/tok0>, "
        "<mailto:leave@example.org?subject=unsubscribe>"
    }
    assert body["headers"] == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert body["categories"] == ["roundup", "weekly"]
    assert body["from"] == {"email": "news@example.org", "name": "The Round-Up"}
    assert body["reply_to"] == {"email": "editors@example.org"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert waits.seconds == []


def test_the_request_body_satisfies_sendgrids_schema_at_the_limit(config: Config) -> None:
    body = request_body(config, message(), recipients(1000))
    assert list(mail_send_validator().iter_errors(body)) == []
    with pytest.raises(ValueError, match="1 to 1000"):
        request_body(config, message(), recipients(1001))


def test_429_waits_for_the_rate_limit_reset_then_succeeds(
    config: Config, server: SendGridServer
) -> None:
    server.on(1, "429", reset_in=20)
    waits = Waits()
    result = sendgrid(config, server, waits).send(message(), recipients(2))
    assert result.state is BatchState.ACCEPTED and result.attempts == 2
    assert server.statuses == [429, 202]
    # Backoff alone would be 0.5 s (base 1 s, jitter 0); the reset asked for ~20 s.
    assert len(waits.seconds) == 1 and 18 <= waits.seconds[0] <= 20


def test_500_is_retried_and_gives_up_after_max_attempts(
    config: Config, server: SendGridServer
) -> None:
    for n in (1, 2, 3):
        server.on(n, "500")
    waits = Waits()
    result = sendgrid(config, server, waits).send(message(), recipients(2))
    assert result.state is BatchState.FAILED and result.attempts == 3
    assert "gave up after 3 attempts" in (result.error or "")
    assert "500" in (result.error or "")
    assert waits.seconds == [0.5, 1.0]  # base * 2^(n-1), jitter 0 takes half
    assert server.accepted == []


def test_400_fails_at_once_with_sendgrids_message(config: Config, server: SendGridServer) -> None:
    server.on(1, "400", message="The from address does not match a verified Sender Identity.")
    waits = Waits()
    result = sendgrid(config, server, waits).send(message(), recipients(2))
    assert result.state is BatchState.FAILED and result.attempts == 1
    assert result.error == (
        "SendGrid answered 400: from.email: The from address does not match a verified "
        "Sender Identity."
    )
    assert waits.seconds == [] and server.request_count == 1


def test_a_wrong_api_key_fails_with_the_reason(config: Config, server: SendGridServer) -> None:
    result = sendgrid(config, server, Waits(), key="SG.wrong").send(message(), recipients(1))
    assert result.state is BatchState.FAILED
    assert "401" in (result.error or "") and "authorization required" in (result.error or "")


def test_a_timeout_leaves_the_batch_ambiguous_without_retrying(
    config: Config, server: SendGridServer
) -> None:
    server.on(1, "hang")
    waits = Waits()
    try:
        result = sendgrid(config, server, waits).send(message(), recipients(2))
    finally:
        server.release()
    assert result.state is BatchState.AMBIGUOUS
    assert "may have accepted" in (result.error or "") and "--retry-ambiguous" in (
        result.error or ""
    )
    assert server.request_count == 1 and waits.seconds == []


def test_nobody_listening_fails_after_retries(config: Config) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    waits = Waits()
    transport = SendGridTransport(
        config, API_KEY, host=f"http://127.0.0.1:{port}", sleep=waits, jitter=lambda: 0.0
    )
    result = transport.send(message(), recipients(1))
    assert result.state is BatchState.FAILED and "cannot reach SendGrid" in (result.error or "")
    assert len(waits.seconds) == 2


# --- pure decisions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, retry.Verdict.ACCEPTED),
        (202, retry.Verdict.ACCEPTED),
        (429, retry.Verdict.RETRY),
        (500, retry.Verdict.RETRY),
        (503, retry.Verdict.RETRY),
        (400, retry.Verdict.FAIL),
        (401, retry.Verdict.FAIL),
        (413, retry.Verdict.FAIL),
        (302, retry.Verdict.FAIL),
    ],
)
def test_verdicts(status: int, expected: retry.Verdict) -> None:
    assert retry.verdict(status) is expected


@pytest.mark.parametrize(
    ("attempt", "headers", "jitter", "expected"),
    [
        (1, {}, 0.0, 1.0),  # base 2, half of it at jitter 0
        (1, {}, 0.999, 1.999),
        (3, {}, 0.0, 4.0),  # 2 * 2^2 = 8, halved
        (10, {}, 0.0, 30.0),  # capped at 60, halved
        (1, {"X-RateLimit-Reset": "1010"}, 0.0, 10.0),  # reset 10 s after now
        (1, {"X-RateLimit-Reset": "999999"}, 0.0, 60.0),  # a far reset is capped
        (1, {"X-RateLimit-Reset": "900"}, 0.0, 1.0),  # a past reset: backoff
        (1, {"X-RateLimit-Reset": "soon"}, 0.0, 1.0),  # nonsense is ignored
        (1, {"Retry-After": "7"}, 0.0, 7.0),
        (1, {"X-RateLimit-Reset": "nan"}, 0.0, 1.0),
    ],
)
def test_retry_waits(attempt: int, headers: dict[str, str], jitter: float, expected: float) -> None:
    got = retry.retry_wait(attempt, headers, now=1000.0, base=2.0, cap=60.0, jitter=jitter)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"errors":[{"message":"bad from","field":"from"},{"message":"no content"}]}',
            "SendGrid answered 400: from: bad from; no content",
        ),
        (b"<html>oops</html>", "SendGrid answered 400: <html>oops</html>"),
        (b"", "SendGrid answered 400: no error message in the response"),
        (b'{"errors": "weird"}', 'SendGrid answered 400: {"errors": "weird"}'),
    ],
)
def test_error_messages(body: bytes, expected: str) -> None:
    assert retry.error_message(400, body) == expected


def test_error_messages_are_bounded() -> None:
    body = b'{"errors":[' + b",".join([b'{"message":"' + b"x" * 200 + b'"}'] * 10) + b"]}"
    assert len(retry.error_message(400, body)) == retry.MAX_ERROR_CHARS


@pytest.mark.parametrize(
    ("configured", "chosen", "key", "expected"),
    [
        ("auto", None, None, "outbox"),
        ("auto", None, "SG.x", "sendgrid"),
        ("auto", "outbox", "SG.x", "outbox"),
        ("outbox", None, "SG.x", "outbox"),
        ("sendgrid", None, None, "sendgrid"),  # and make_transport then asks for the key
        ("outbox", "sendgrid", None, "sendgrid"),
    ],
)
def test_transport_choice(
    configured: str, chosen: str | None, key: str | None, expected: str
) -> None:
    assert transport_name(configured, chosen, key) == expected


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ConfigError, match="outbox, sendgrid"):
        transport_name("auto", "smtp", None)


# --- outbox ------------------------------------------------------------------


def test_outbox_writes_one_readable_message_per_recipient(config: Config, tmp_path: Path) -> None:
    clock = FixedClock()
    outbox = OutboxTransport(config, tmp_path / "outbox", clock)
    tricky = Recipient(
        "o'brien&co@example.org",
        "O'Brien",
        {
            "unsubscribe_url": "https://news.example.org/unsubscribe/a",
            "email": "o'brien&co@example.org",
            "preferences_url": "https://news.example.org/preferences/a",
        },
    )
    try:
        first = outbox.send(message(), [*recipients(2), tricky])
        clock.advance(timedelta(minutes=1))
        second = outbox.send(message(), recipients(1))
    finally:
        outbox.close()
    assert first.accepted and second.accepted
    path = tmp_path / "outbox" / "2026-W48.mbox"
    box = mailbox.mbox(path, factory=None, create=False)
    mails = [m for m in box]
    assert len(mails) == 4
    # Re-parsed with the modern policy, as a mail reader would, for get_body().
    parsed = [message_from_bytes(m.as_bytes(), policy=default_policy) for m in mails]
    one = parsed[1]
    assert one["To"] == "Reader 1 <reader1@example.org>"
    assert one["From"] == "The Round-Up <news@example.org>"
    assert one["Reply-To"] == "editors@example.org"
    assert one["Subject"] == "Weekly Round-Up: 24 November"
    assert one["List-Unsubscribe"] == (
        "<https://news.example.org/unsubscribe/tok1>, "
        "<mailto:leave@example.org?subject=unsubscribe>"
    )
    assert one["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert one.get_content_type() == "multipart/alternative"
    text = one.get_body(("plain",))
    html = one.get_body(("html",))
    assert text is not None and html is not None
    assert "https://news.example.org/unsubscribe/tok1" in text.get_content()
    assert "-roundup." not in text.get_content() and "-roundup." not in html.get_content()
    odd = parsed[2].get_body(("html",))
    assert odd is not None and "o&#x27;brien&amp;co@example.org" in odd.get_content()
    odd_text = parsed[2].get_body(("plain",))
    assert odd_text is not None and "o'brien&co@example.org" in odd_text.get_content()
    box.close()


def test_outbox_files_by_kind(config: Config, tmp_path: Path) -> None:
    outbox = OutboxTransport(config, tmp_path, FixedClock())
    try:
        outbox.send(message(edition="2026-W48", test="1"), recipients(1))
        outbox.send(message(kind="confirm"), recipients(1))
    finally:
        outbox.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mbox") == [
        "2026-W48-test.mbox",
        "transactional.mbox",
    ]


def test_outbox_appends_from_two_writers_without_interleaving(
    config: Config, tmp_path: Path
) -> None:
    a = OutboxTransport(config, tmp_path, FixedClock())
    b = OutboxTransport(config, tmp_path, FixedClock())
    try:
        for _ in range(3):
            assert a.send(message(), recipients(2)).accepted
            assert b.send(message(), recipients(3)).accepted
    finally:
        a.close()
        b.close()
    box = mailbox.mbox(tmp_path / "2026-W48.mbox")
    assert len(box) == 15
    assert all(m.is_multipart() for m in box)
    box.close()
