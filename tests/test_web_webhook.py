"""SendGrid's event webhook: signature checks with real ECDSA keys, the pure event
decisions, and applying events to a real store (SQLite and PostgreSQL) once only.

The HTTP side (403 for unsigned posts through the running app) is in test_web_app.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.send.webhook import (
    MAX_BODY_BYTES,
    MAX_EVENTS,
    Action,
    Event,
    Verifier,
    WebhookRejected,
    apply_events,
    check_timestamp,
    decide,
    parse_events,
)
from bot.store import Store
from bot.store.ledger import Planned
from bot.types import BatchState, SubscriberStatus
from tests.webhook_signing import (
    SIGNATURE,
    TIMESTAMP,
    WebhookSigner,
    body_of,
    sample_events,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
S = SubscriberStatus


@pytest.fixture(scope="module")
def signer() -> WebhookSigner:
    return WebhookSigner()


# --- signatures ------------------------------------------------------------------


def test_a_body_signed_as_sendgrid_signs_it_verifies(signer: WebhookSigner) -> None:
    body = body_of(sample_events())
    headers = signer.sign(body, NOW)
    Verifier(signer.public_key).verify(body, headers[SIGNATURE], headers[TIMESTAMP], NOW)


def _tamper(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None, str | None]:
    return body.replace(b"bounce", b"bounze", 1), headers[SIGNATURE], headers[TIMESTAMP]


def _other_time(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None, str | None]:
    return body, headers[SIGNATURE], str(int(headers[TIMESTAMP]) + 1)


def _unsigned(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None, str | None]:
    return body, None, headers[TIMESTAMP]


def _no_timestamp(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None, str | None]:
    return body, headers[SIGNATURE], None


def _garbage_signature(
    body: bytes, headers: dict[str, str]
) -> tuple[bytes, str | None, str | None]:
    return body, "not*base64!", headers[TIMESTAMP]


def _not_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None, str | None]:
    return b"\xff" + body, headers[SIGNATURE], headers[TIMESTAMP]


@pytest.mark.parametrize(
    "change",
    [_tamper, _other_time, _unsigned, _no_timestamp, _garbage_signature, _not_utf8],
    ids=lambda f: f.__name__.strip("_"),
)
def test_an_altered_or_unsigned_post_is_rejected(signer: WebhookSigner, change: Any) -> None:
    body = body_of(sample_events())
    posted, signature, timestamp = change(body, signer.sign(body, NOW))
    with pytest.raises(WebhookRejected):
        Verifier(signer.public_key).verify(posted, signature, timestamp, NOW)


def test_a_post_signed_with_another_key_is_rejected(signer: WebhookSigner) -> None:
    body = body_of(sample_events())
    headers = WebhookSigner().sign(body, NOW)
    with pytest.raises(WebhookRejected, match="does not match"):
        Verifier(signer.public_key).verify(body, headers[SIGNATURE], headers[TIMESTAMP], NOW)


def test_a_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
        Verifier("bm90IGEga2V5")


def test_an_oversized_body_is_rejected_before_any_crypto(signer: WebhookSigner) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(WebhookRejected, match="larger"):
        Verifier(signer.public_key).verify(body, "x", str(int(NOW.timestamp())), NOW)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(0), True),
        (timedelta(minutes=-9, seconds=-59), True),
        (timedelta(minutes=-10, seconds=-1), False),  # a replay from long ago
        (timedelta(minutes=9), True),
        (timedelta(minutes=11), False),  # from the future: a clock far off, refuse
        (timedelta(days=-400), False),
    ],
)
def test_replay_window(offset: timedelta, ok: bool) -> None:
    stamp = str(int((NOW + offset).timestamp()))
    if ok:
        check_timestamp(stamp, NOW, timedelta(minutes=10))
    else:
        with pytest.raises(WebhookRejected, match="replay window"):
            check_timestamp(stamp, NOW, timedelta(minutes=10))


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "1.5", "١٢٣", "9" * 40])
def test_a_timestamp_that_is_not_unix_seconds_is_rejected(stamp: str) -> None:
    with pytest.raises(WebhookRejected):
        check_timestamp(stamp, NOW, timedelta(minutes=10))


# --- parsing and decisions -------------------------------------------------------


def test_parse_reads_the_fields_and_skips_events_without_an_id() -> None:
    raw = [*sample_events(), {"event": "bounce", "email": "x@example.org"}, "junk", 5]
    events = parse_events(body_of(raw))
    assert [e.event_id for e in events] == [e["sg_event_id"] for e in sample_events()]
    bounce = next(e for e in events if e.event_id == "ev-bounce-1")
    assert bounce == Event(
        event_id="ev-bounce-1",
        event="bounce",
        email="bounce@example.org",
        batch_id=1,
        bounce_type="bounce",
        reason="550 5.1.1 The email account that you tried to reach does not exist",
    )


@pytest.mark.parametrize(
    "body", [b"{}", b"not json", b'{"event": "bounce"}', b"[" * 100_000 + b"]" * 100_000]
)
def test_parse_refuses_what_is_not_an_array_of_events(body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        parse_events(body)


def test_parse_refuses_too_many_events() -> None:
    with pytest.raises(WebhookRejected, match="more than"):
        parse_events(json.dumps([{}] * (MAX_EVENTS + 1)).encode())


@pytest.mark.parametrize("batch", ["0", "-1", "x", "99999999999999", True, 2**40, 1.5])
def test_a_batch_id_that_is_not_ours_is_dropped(batch: object) -> None:
    raw = [{"sg_event_id": "e", "event": "delivered", "email": "a@b.org", "batch": batch}]
    assert parse_events(body_of(raw))[0].batch_id is None


def ev(event: str, **fields: Any) -> Event:
    return Event(event_id="e1", event=event, email="a@example.org", **fields)


@pytest.mark.parametrize(
    ("event", "current", "action", "status"),
    [
        (ev("bounce", bounce_type="bounce"), S.ACTIVE, Action.SET_STATUS, S.BOUNCED),
        (ev("bounce"), S.PENDING, Action.SET_STATUS, S.BOUNCED),
        (ev("bounce", bounce_type="blocked"), S.ACTIVE, Action.IGNORE, None),
        (ev("dropped"), S.ACTIVE, Action.SET_STATUS, S.BOUNCED),
        (ev("dropped"), S.UNSUBSCRIBED, Action.SET_STATUS, S.BOUNCED),
        (ev("spamreport"), S.ACTIVE, Action.SET_STATUS, S.COMPLAINED),
        (ev("spamreport"), S.BOUNCED, Action.SET_STATUS, S.COMPLAINED),
        (ev("unsubscribe"), S.ACTIVE, Action.SET_STATUS, S.UNSUBSCRIBED),
        (ev("group_unsubscribe"), S.ACTIVE, Action.SET_STATUS, S.UNSUBSCRIBED),
        # never downgrade: a later, weaker event leaves the stronger status
        (ev("unsubscribe"), S.COMPLAINED, Action.IGNORE, None),
        (ev("bounce"), S.COMPLAINED, Action.IGNORE, None),
        (ev("unsubscribe"), S.BOUNCED, Action.IGNORE, None),
        (ev("unsubscribe"), S.UNSUBSCRIBED, Action.IGNORE, None),
        # not a subscriber of ours (a confirmation email's bounce, say)
        (ev("bounce"), None, Action.IGNORE, None),
        (ev("delivered", batch_id=7), S.ACTIVE, Action.CONFIRM_BATCH, None),
        (ev("delivered", batch_id=7), None, Action.CONFIRM_BATCH, None),
        (ev("delivered"), S.ACTIVE, Action.IGNORE, None),
        (ev("open", batch_id=7), S.ACTIVE, Action.IGNORE, None),
        (ev("processed", batch_id=7), S.ACTIVE, Action.IGNORE, None),
        (ev("deferred"), S.ACTIVE, Action.IGNORE, None),
    ],
)
def test_decide(
    event: Event,
    current: SubscriberStatus | None,
    action: Action,
    status: SubscriberStatus | None,
) -> None:
    decision = decide(event, current)
    assert (decision.action, decision.status) == (action, status)


# --- applying to the store -------------------------------------------------------


def _ambiguous_batch(store: Store, subscriber_id: int, email: str) -> int:
    store.plan_batches("2026-W48", [Planned(subscriber_id, email, ())], batch_size=10, now=NOW)
    batch = store.list_batches("2026-W48")[0]
    store.claim_batch(batch.id, transport="sendgrid", now=NOW)
    store.mark_batch(batch.id, BatchState.AMBIGUOUS, now=NOW, error="timeout")
    return batch.id


def test_events_update_statuses_and_confirm_the_batch_once(store: Store) -> None:
    emails = [e["email"] for e in sample_events()]
    for email in emails:
        store.add_subscriber(email, now=NOW, status=S.ACTIVE)
    delivered = store.get_subscriber("delivered@example.org")
    assert delivered is not None and delivered.id is not None
    batch_id = _ambiguous_batch(store, delivered.id, delivered.email)
    raw = sample_events()
    for event in raw:
        event["batch"] = str(batch_id)

    result = apply_events(store, parse_events(body_of(raw)), NOW)

    status = {e: store.get_subscriber(e).status for e in emails}  # type: ignore[union-attr]
    assert status == {
        "processed@example.org": S.ACTIVE,
        "bounce@example.org": S.BOUNCED,
        "blocked@example.org": S.ACTIVE,
        "dropped@example.org": S.BOUNCED,
        "spam@example.org": S.COMPLAINED,
        "unsub@example.org": S.UNSUBSCRIBED,
        "group@example.org": S.UNSUBSCRIBED,
        "open@example.org": S.ACTIVE,
        "delivered@example.org": S.ACTIVE,
    }
    bounced = store.get_subscriber("bounce@example.org")
    assert bounced is not None and "does not exist" in (bounced.status_reason or "")
    assert store.get_batch(batch_id).state is BatchState.ACCEPTED  # type: ignore[union-attr]
    # The processed event is applied too: it settles the ambiguous batch.
    assert (result.applied, result.replayed) == (7, 0)


def test_a_replayed_event_changes_nothing(store: Store) -> None:
    sub = store.add_subscriber("reader@example.org", now=NOW, status=S.ACTIVE)
    assert sub.id is not None
    unsub = [{"sg_event_id": "ev-1", "event": "unsubscribe", "email": sub.email}]
    assert apply_events(store, parse_events(body_of(unsub)), NOW).applied == 1
    # The reader signs up again and confirms; then SendGrid retries the old post.
    store.set_subscriber_status(sub.id, S.ACTIVE, now=NOW, reason="confirmed")
    again = apply_events(store, parse_events(body_of(unsub)), NOW + timedelta(minutes=5))
    assert (again.applied, again.replayed) == (0, 1)
    assert store.get_subscriber(sub.email).status is S.ACTIVE  # type: ignore[union-attr]


def test_events_for_unknown_addresses_are_ignored_and_recorded(store: Store) -> None:
    raw = [{"sg_event_id": "ev-x", "event": "bounce", "email": "nobody@example.org"}]
    first = apply_events(store, parse_events(body_of(raw)), NOW)
    second = apply_events(store, parse_events(body_of(raw)), NOW)
    assert (first.ignored, second.replayed) == (1, 1)
    assert store.get_subscriber("nobody@example.org") is None


def test_an_event_applied_but_not_recorded_is_harmless_to_apply_again(store: Store) -> None:
    # A crash after applying and before recording: SendGrid retries the post.
    sub = store.add_subscriber("reader@example.org", now=NOW, status=S.ACTIVE)
    assert sub.id is not None
    batch_id = _ambiguous_batch(store, sub.id, sub.email)
    store.set_subscriber_status(sub.id, S.BOUNCED, now=NOW, reason="sendgrid bounce")
    store.confirm_batch_delivered(batch_id, NOW)
    raw = [
        {"sg_event_id": "ev-d", "event": "delivered", "email": sub.email, "batch": str(batch_id)},
        {"sg_event_id": "ev-b", "event": "bounce", "email": sub.email, "type": "bounce"},
    ]
    later = NOW + timedelta(hours=1)
    retry = apply_events(store, parse_events(body_of(raw)), later)
    after = store.get_subscriber(sub.email)
    assert after is not None and after.status is S.BOUNCED
    assert after.status_changed_at == NOW  # not set again
    batch = store.get_batch(batch_id)
    assert batch is not None and batch.state is BatchState.ACCEPTED and batch.accepted_at == NOW
    assert store.webhook_event_seen("ev-d") and store.webhook_event_seen("ev-b")
    assert apply_events(store, parse_events(body_of(raw)), later).replayed == 2
    assert retry.replayed == 0
