"""SendGrid's signed event webhook: verify a post, then apply each event once.

What it does: checks a post's ECDSA signature with the sendgrid package's own
`EventWebhook` helper (public key from ``SENDGRID_WEBHOOK_PUBLIC_KEY``, headers
``X-Twilio-Email-Event-Webhook-Signature`` and ``-Timestamp``), refuses timestamps
outside a replay window and bodies past a size cap, parses the JSON array of events
(bounded in count), decides what each event means for the store (a pure function
of the event and the subscriber's current status), and applies it: bounce and
dropped -> bounced, spamreport -> complained, unsubscribe and group_unsubscribe ->
unsubscribed, delivered with our batch id -> the ledger's `confirm_batch_delivered`.
Each event's ``sg_event_id`` is recorded in ``webhook_events`` after it is applied,
so a replayed post changes nothing.
What it does not do: speak HTTP (the web app does), or act on opens, clicks,
deferrals and other events it does not list (they are acknowledged and dropped).
"""

from __future__ import annotations

import binascii
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook

from bot.clock import ensure_utc
from bot.errors import ConfigError, RoundupError
from bot.send.message import BATCH_ARG
from bot.store import Store
from bot.types import SubscriberStatus

log = logging.getLogger(__name__)

PUBLIC_KEY_ENV = "SENDGRID_WEBHOOK_PUBLIC_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid posts batches of events, each post well under 1 MB in practice.
MAX_BODY_BYTES = 2_000_000
MAX_EVENTS = 10_000
REPLAY_WINDOW = timedelta(minutes=10)
_MAX_FIELD = 1000  # longest email / event id we keep


class WebhookRejected(RoundupError):
    """A webhook post that is unsigned, badly signed, stale, too large or malformed."""


class Action(Enum):
    """What one event does to the store."""

    IGNORE = "ignore"
    SET_STATUS = "set_status"
    CONFIRM_BATCH = "confirm_batch"


@dataclass(frozen=True)
class Event:
    """The parts of one SendGrid event roundup reads."""

    event_id: str
    event: str
    email: str | None = None
    batch_id: int | None = None
    bounce_type: str | None = None  # "bounce" or "blocked" on bounce events
    reason: str | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    status: SubscriberStatus | None = None


@dataclass(frozen=True)
class ApplyResult:
    """What one post did: events applied, replays skipped, events ignored."""

    applied: int = 0
    replayed: int = 0
    ignored: int = 0


# Events SendGrid reports only for mail it accepted: one with our batch id proves
# the batch's request was taken (it settles an ambiguous batch).
SETTLING_EVENTS = frozenset({"processed", "delivered", "deferred", "bounce", "dropped"})
_STATUS_OF_EVENT = {
    "bounce": SubscriberStatus.BOUNCED,
    "dropped": SubscriberStatus.BOUNCED,
    "spamreport": SubscriberStatus.COMPLAINED,
    "unsubscribe": SubscriberStatus.UNSUBSCRIBED,
    "group_unsubscribe": SubscriberStatus.UNSUBSCRIBED,
}
# A status only moves up this ladder: a spam report outranks a bounce, which
# outranks an unsubscribe; none of them may be undone by a later, weaker event.
_RANK = {
    SubscriberStatus.PENDING: 0,
    SubscriberStatus.ACTIVE: 0,
    SubscriberStatus.UNSUBSCRIBED: 1,
    SubscriberStatus.BOUNCED: 2,
    SubscriberStatus.COMPLAINED: 3,
}


def public_key_from_env() -> str:
    """The webhook's verification key (base64 DER, as SendGrid's settings page shows it)."""
    key = os.environ.get(PUBLIC_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            f"{PUBLIC_KEY_ENV} is not set: copy the verification key from SendGrid's "
            "Mail Settings > Event Webhook > Signed Event Webhook into it"
        )
    return key


class Verifier:
    """Checks posts against one public key; built once, used per request."""

    def __init__(self, public_key: str, window: timedelta = REPLAY_WINDOW) -> None:
        try:
            self._helper = EventWebhook(public_key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{PUBLIC_KEY_ENV} is not a valid ECDSA public key ({exc}); copy it "
                "again from SendGrid's Signed Event Webhook settings"
            ) from exc
        self.window = window

    def verify(
        self, body: bytes, signature: str | None, timestamp: str | None, now: datetime
    ) -> None:
        """Return if the post is genuine and fresh; else raise `WebhookRejected`."""
        if len(body) > MAX_BODY_BYTES:
            raise WebhookRejected(f"body larger than {MAX_BODY_BYTES} bytes")
        if not signature or not timestamp:
            raise WebhookRejected("unsigned post: the signature or timestamp header is missing")
        check_timestamp(timestamp, now, self.window)
        try:
            payload = body.decode("utf-8")
            ok = self._helper.verify_signature(payload, signature, timestamp)
        except (UnicodeDecodeError, binascii.Error, ValueError) as exc:
            raise WebhookRejected(f"malformed signature or body: {exc}") from exc
        if not ok:
            raise WebhookRejected("the signature does not match the body")


def check_timestamp(timestamp: str, now: datetime, window: timedelta) -> None:
    """Raise `WebhookRejected` unless `timestamp` (Unix seconds) is within `window` of now."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRejected(f"timestamp {timestamp[:40]!r} is not Unix seconds")
    at = datetime.fromtimestamp(int(timestamp), UTC)
    if abs(ensure_utc(now) - at) > window:
        raise WebhookRejected(f"timestamp {at.isoformat()} is outside the {window} replay window")


def parse_events(body: bytes) -> list[Event]:
    """The events of a verified post; raises `WebhookRejected` when it is not SendGrid's shape.

    Events without an ``sg_event_id`` or ``event`` are skipped: they cannot be
    applied exactly once.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise WebhookRejected("the body is not a JSON array of events")
    if len(data) > MAX_EVENTS:
        raise WebhookRejected(f"more than {MAX_EVENTS} events in one post")
    return [e for e in (_event(raw) for raw in data) if e is not None]


def _event(raw: Any) -> Event | None:
    if not isinstance(raw, dict):
        return None
    event_id, kind = _text(raw.get("sg_event_id")), _text(raw.get("event"))
    if not event_id or not kind:
        return None
    return Event(
        event_id=event_id,
        event=kind,
        email=_text(raw.get("email")),
        batch_id=_int(raw.get(BATCH_ARG)),
        bounce_type=_text(raw.get("type")),
        reason=_text(raw.get("reason")),
    )


def _text(value: object) -> str | None:
    return value[:_MAX_FIELD] if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        value = int(value)
    # Batch ids are 32-bit integers in the store; anything else is not ours.
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def decide(event: Event, current: SubscriberStatus | None) -> Decision:
    """What `event` does, given the addressee's current status (None: not a subscriber).

    A "blocked" bounce is a temporary refusal by the receiving server, not a dead
    address: it is ignored. A status change applies only when it ranks above the
    current status (see `_RANK`).
    """
    if event.event == "delivered":
        if event.batch_id is None:
            return Decision(Action.IGNORE)
        return Decision(Action.CONFIRM_BATCH)
    status = _STATUS_OF_EVENT.get(event.event)
    if status is None or current is None:
        return Decision(Action.IGNORE)
    if event.event == "bounce" and event.bounce_type == "blocked":
        return Decision(Action.IGNORE)
    if _RANK[status] <= _RANK[current]:
        return Decision(Action.IGNORE)
    return Decision(Action.SET_STATUS, status)


def apply_events(store: Store, events: Sequence[Event], now: datetime) -> ApplyResult:
    """Apply each event not seen before, then record its id; replays change nothing.

    Applying and recording are two transactions, not one: the status change and
    the batch confirmation belong to the subscribers and ledger parts of the store,
    each with its own transaction, and one store method doing all three would copy
    their statements. The order makes that safe. Recording after applying means a
    crash between the two can never lose an event (SendGrid retries the post until
    we answer 2xx), only apply it again, which changes nothing: the decision is
    re-made from the subscriber's current status, which only moves up `_RANK`, and
    only an ambiguous batch is confirmed. The same holds for two posts carrying one
    event at once.
    """
    applied = replayed = ignored = 0
    for event in events:
        if store.webhook_event_seen(event.event_id):
            replayed += 1
            continue
        if _apply(store, event, now):
            applied += 1
        else:
            ignored += 1
        # Opens, clicks and the like are never acted on: keep no row for them.
        # Accepting events with a batch id are kept: a resume settles by them.
        settling = event.event in SETTLING_EVENTS and event.batch_id is not None
        if event.event in _STATUS_OF_EVENT or event.event == "delivered" or settling:
            store.record_webhook_event(
                event.event_id, event.event, event.email, event.batch_id, now
            )
    return ApplyResult(applied=applied, replayed=replayed, ignored=ignored)


def _apply(store: Store, event: Event, now: datetime) -> bool:
    subscriber = store.get_subscriber(event.email) if event.email else None
    decision = decide(event, subscriber.status if subscriber else None)
    changed = False
    if decision.action is Action.SET_STATUS and subscriber is not None:
        assert subscriber.id is not None and decision.status is not None
        reason = f"sendgrid {event.event}" + (f": {event.reason}" if event.reason else "")
        store.set_subscriber_status(subscriber.id, decision.status, now=now, reason=reason)
        changed = True
    if decision.action is Action.CONFIRM_BATCH and event.batch_id is not None:
        store.confirm_batch_delivered(event.batch_id, now)
        return True
    # Any accepting event settles its batch, besides what it does to the address.
    if event.batch_id is not None and event.event in SETTLING_EVENTS:
        changed = store.confirm_batch_delivered(event.batch_id, now) or changed
    return changed
