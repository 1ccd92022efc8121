"""The sign-up page hardened: one mailbox is one subscriber, confirmation by a button,
mails queued and sent in the background (retried through an outage), random public
ids in links, no Host-built redirect. Over real HTTP against the app under uvicorn,
on SQLite and PostgreSQL where the store decides.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.clock import FixedClock
from bot.send.confirmations import MAX_ATTEMPTS, retry_delay
from bot.store import Store, open_store
from bot.store.confirmations import SignupAction
from bot.store.subscribers import email_key
from bot.tokens import Purpose, make_token
from bot.types import SubscriberStatus
from bot.web.signup_limit import PER_CLIENT, PER_MAILBOX, SlidingWindow
from tests.render_editions import fixture_config
from tests.test_web_app import csrf, press, subscribe
from tests.webapp import SECRET, LiveApp
from tests.webhook_signing import WebhookSigner, body_of

S = SubscriberStatus
SPELLINGS = ("reader@example.org", "Reader@example.org", "READER@EXAMPLE.ORG", "rEaDeR@Example.Org")


@pytest.fixture
def live(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[LiveApp]:
    with LiveApp(database_url, fixture_config(), clock, tmp_path / "outbox") as app:
        yield app


@pytest.fixture
def lite(sqlite_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[LiveApp]:
    """The app on SQLite alone, for what does not depend on the database."""
    with LiveApp(sqlite_url, fixture_config(), clock, tmp_path / "outbox") as app:
        yield app


@pytest.fixture
def lite_client(lite: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lite.base_url, timeout=10, follow_redirects=False) as c:
        yield c


@pytest.fixture
def client(live: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=10, follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("Ann.Lee@Example.ORG", "ann.lee@example.org"),
        ("ann.lee@example.org", "ann.lee@example.org"),
        ("ANN@XN--BCHER-KVA.EXAMPLE", "ann@xn--bcher-kva.example"),
        ("ann@Bücher.example", "ann@xn--bcher-kva.example"),  # IDNA
        ("ann@example.org.", "ann@example.org"),  # the root's dot
        ("Straße@example.org", "strasse@example.org"),  # case-folded, not only lowered
    ],
)
def test_the_identity_of_a_mailbox(email: str, key: str) -> None:
    assert email_key(email) == key


# --- 1. one mailbox, one subscriber ---------------------------------------------------


def test_spellings_of_one_address_are_one_subscriber_and_one_mail(
    live: LiveApp, client: httpx.Client, store: Store
) -> None:
    answers = [subscribe(client, email) for email in SPELLINGS]
    assert [a.status_code for a in answers] == [200] * len(SPELLINGS)
    counts = store.count_subscribers()
    assert sum(counts.values()) == 1 and counts[S.PENDING] == 1
    sub = store.get_subscriber("READER@example.ORG")
    assert sub is not None and sub.email == SPELLINGS[0]  # the spelling first given
    assert [m.to for m in live.mailed(1)] == [SPELLINGS[0]]


def test_signups_are_limited_per_mailbox_across_spellings(
    lite: LiveApp, lite_client: httpx.Client, clock: FixedClock
) -> None:
    client = lite_client
    field = csrf(client, "/subscribe")
    spellings = ["limit@example.org" if i % 2 else "LIMIT@Example.org" for i in range(PER_MAILBOX)]
    for email in spellings:
        assert client.post("/subscribe", data={"csrf": field, "email": email}).status_code == 200
    refused = client.post("/subscribe", data={"csrf": field, "email": "Limit@EXAMPLE.org"})
    assert refused.status_code == 429 and "Too many sign-ups" in refused.text
    other = client.post("/subscribe", data={"csrf": field, "email": "other@example.org"})
    assert other.status_code == 200  # another mailbox from the same client is fine
    clock.advance(timedelta(hours=1))
    again = client.post("/subscribe", data={"csrf": field, "email": "limit@example.org"})
    assert again.status_code == 200


def test_signups_are_limited_per_client(lite: LiveApp, lite_client: httpx.Client) -> None:
    client = lite_client
    field = csrf(client, "/subscribe")
    for i in range(PER_CLIENT):
        answer = client.post("/subscribe", data={"csrf": field, "email": f"c{i}@example.org"})
        assert answer.status_code == 200, i
    refused = client.post("/subscribe", data={"csrf": field, "email": "one-more@example.org"})
    assert refused.status_code == 429
    assert "one-more" not in "".join(m.to for m in lite.mailed(PER_CLIENT))


def test_the_limits_hold_their_memory_bounded() -> None:
    window = SlidingWindow(limit=2, window=timedelta(minutes=1), max_keys=3)
    now = FixedClock().now()
    assert [window.allow("a", now) for _ in range(3)] == [True, True, False]
    for key in ("b", "c", "d"):  # "a" is the least recently used: forgotten
        assert window.allow(key, now)
    assert window.allow("a", now)
    assert window.allow("d", now + timedelta(minutes=1))  # the window slid


def test_a_webhook_event_finds_the_subscriber_in_any_spelling(
    database_url: str, store: Store, clock: FixedClock, tmp_path: Path
) -> None:
    signer = WebhookSigner()
    store.add_subscriber("Hook@example.org", now=clock.now(), status=S.ACTIVE)
    body = body_of([{"sg_event_id": "ev-9", "event": "bounce", "email": "HOOK@EXAMPLE.ORG"}])
    with LiveApp(
        database_url, fixture_config(), clock, tmp_path / "outbox", signer.public_key
    ) as app:
        answer = httpx.post(
            app.url("/webhooks/sendgrid"), content=body, headers=signer.sign(body, clock.now())
        )
    assert answer.status_code == 200 and answer.json()["applied"] == 1
    sub = store.get_subscriber("hook@example.org")
    assert sub is not None and sub.status is S.BOUNCED


# --- 2. the confirmation link asks; only its button confirms ---------------------------


def test_opening_the_confirmation_link_changes_nothing(
    lite: LiveApp, lite_client: httpx.Client, sqlite_url: str
) -> None:
    live, client, store = lite, lite_client, open_store(sqlite_url)
    subscribe(client, "scanned@example.org")
    [mail] = live.mailed(1)
    for _ in range(2):  # a link scanner, then a prefetcher
        opened = httpx.get(mail.confirm_url)
        assert opened.status_code == 200
        assert "Confirm your subscription" in opened.text and "<button" in opened.text
    assert store.get_subscriber("scanned@example.org").status is S.PENDING  # type: ignore[union-attr]
    forged = httpx.post(mail.confirm_url, data={"csrf": "0" * 64})
    assert forged.status_code == 403
    assert store.get_subscriber("scanned@example.org").status is S.PENDING  # type: ignore[union-attr]
    pressed = press(client, mail.confirm_url)
    assert pressed.status_code == 200 and "You are subscribed" in pressed.text
    assert store.get_subscriber("scanned@example.org").status is S.ACTIVE  # type: ignore[union-attr]
    store.close()


# --- 3. mails are queued, sent in the background, retried; answers alike -------------


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (4, timedelta(minutes=8)),
        (7, timedelta(hours=1)),  # capped
        (MAX_ATTEMPTS, None),  # the last try: given up
    ],
)
def test_retry_delays(attempt: int, delay: timedelta | None) -> None:
    assert retry_delay(attempt) == delay


def test_a_mail_outage_answers_alike_and_the_mail_goes_once_it_is_over(
    sqlite_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    store = open_store(sqlite_url)
    outbox = tmp_path / "outbox"
    outbox.write_text("not a folder: the outbox cannot be written")  # the outage
    with (
        LiveApp(sqlite_url, fixture_config(), clock, outbox) as app,
        httpx.Client(base_url=app.base_url, timeout=10) as client,
    ):
        store.add_subscriber("known@example.org", now=clock.now(), status=S.ACTIVE)
        fresh = subscribe(client, "fresh@example.org")
        known = subscribe(client, "known@example.org")
        assert fresh.status_code == known.status_code == 200  # not 503 for mailable ones
        assert fresh.text.replace("fresh", "X") == known.text.replace("known", "X")
        app.mailed()  # the background sender has tried
        sub = store.get_subscriber("fresh@example.org")
        assert sub is not None and sub.status is S.PENDING
        [queued] = store.due_confirmations(clock.now() + timedelta(minutes=1))
        assert queued.subscriber.email == "fresh@example.org" and queued.attempts == 1
        # A sign-up again within resend_after neither fails nor queues a second mail.
        assert subscribe(client, "fresh@example.org").status_code == 200

        outbox.unlink()  # the outage is over
        clock.advance(timedelta(minutes=1))  # the retry is due
        subscribe(client, "later@example.org")  # wakes the sender (else: its interval)
        mails = app.mailed(2)
    assert sorted(m.to for m in mails) == ["fresh@example.org", "later@example.org"]
    assert store.due_confirmations(clock.now() + timedelta(days=1)) == []
    store.close()


# --- 4. links name a random public id ------------------------------------------------


def _token_payload(url: str) -> list[object]:
    token = url.rsplit("/", 1)[1]
    head = token.split(".")[0]
    payload: list[object] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return payload


def test_links_carry_a_random_public_id_not_the_row_id(
    lite: LiveApp, lite_client: httpx.Client, sqlite_url: str
) -> None:
    live, client, store = lite, lite_client, open_store(sqlite_url)
    for email in ("first@example.org", "second@example.org"):
        subscribe(client, email)
    mails = live.mailed(2)
    ids = []
    for mail in mails:
        sub = store.get_subscriber(mail.to)
        assert sub is not None and sub.public_id is not None
        public_id = _token_payload(mail.confirm_url)[0]
        assert public_id == sub.public_id and public_id != sub.id
        assert isinstance(public_id, str) and len(base64.urlsafe_b64decode(public_id + "==")) == 16
        ids.append(public_id)
    assert len(set(ids)) == 2
    # A token naming the row id of a subscriber made today names nobody.
    sub = store.get_subscriber("first@example.org")
    assert sub is not None and sub.id is not None
    guessed = make_token(SECRET, Purpose.CONFIRM, str(sub.id), sub.email, live.clock.now())
    assert httpx.get(live.url(f"/confirm/{guessed}")).status_code == 400
    store.close()


# --- 6. no redirect built from the Host header ----------------------------------------


def test_a_trailing_slash_never_redirects_to_the_host_header(lite: LiveApp) -> None:
    live = lite
    for path in ("/subscribe/", "/confirm/x/", "/assets/site.css/"):
        answer = httpx.get(live.url(path), headers={"Host": "evil.example"})
        assert not answer.is_redirect, path
        assert "evil.example" not in answer.headers.get("location", "")
        assert answer.status_code == 404


def test_a_queued_confirmation_is_claimed_once_and_retried_until_sent(
    store: Store, clock: FixedClock
) -> None:
    def new(_: object) -> SignupAction:
        return SignupAction.CREATE

    now = clock.now()
    store.record_signup("q@example.org", now=now, regions=None, source="web", decide=new)
    [queued] = store.due_confirmations(now)
    assert queued.attempts == 0 and queued.subscriber.status is S.PENDING
    retry = timedelta(minutes=1)
    assert store.claim_confirmation(queued, now=now, retry_in=retry)
    assert not store.claim_confirmation(queued, now=now, retry_in=retry)  # a second sender
    assert store.due_confirmations(now) == []  # claimed: not due until the retry time
    [again] = store.due_confirmations(now + retry)  # the first try failed (or died)
    assert again.attempts == 1
    assert store.claim_confirmation(again, now=now + retry, retry_in=retry)
    store.end_confirmation(again)  # sent
    assert store.due_confirmations(now + timedelta(days=1)) == []
