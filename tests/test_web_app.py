"""The web app over real HTTP: uvicorn on 127.0.0.1, a real store (SQLite and
PostgreSQL), the outbox transport, driven with httpx.

Flows: subscribe -> confirmation email in the outbox -> confirm -> active;
preferences; unsubscribe page and RFC 8058 one-click POST; forged, altered,
wrong-purpose and expired tokens change nothing; CSRF, honeypot, body bounds;
the SendGrid webhook signed, unsigned, badly signed and replayed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.clock import FixedClock
from bot.store import Store
from bot.tokens import Purpose, make_token
from bot.types import Subscriber, SubscriberStatus
from tests.render_editions import fixture_config
from tests.webapp import SECRET, LiveApp
from tests.webhook_signing import WebhookSigner, body_of

S = SubscriberStatus
REGIONS = ("Middle East", "Asia-Pacific", "Europe", "More from the site")
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def live(
    database_url: str, clock: FixedClock, tmp_path: Path, signer: WebhookSigner
) -> Iterator[LiveApp]:
    with LiveApp(
        database_url, fixture_config(), clock, tmp_path / "outbox", signer.public_key
    ) as app:
        yield app


@pytest.fixture
def client(live: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=10, follow_redirects=False) as c:
        yield c


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def subscribe(client: httpx.Client, email: str, *regions: str, **extra: str) -> httpx.Response:
    form = {"csrf": csrf(client, "/subscribe"), "email": email, **extra}
    return client.post("/subscribe", data={**form, "region": list(regions)})


def add(store: Store, email: str, status: SubscriberStatus, clock: FixedClock) -> Subscriber:
    return store.add_subscriber(email, now=clock.now(), status=status)


def token(sub: Subscriber, purpose: Purpose, clock: FixedClock) -> str:
    assert sub.public_id is not None
    return make_token(SECRET, purpose, sub.public_id, sub.email, clock.now())


def press(client: httpx.Client, url: str) -> httpx.Response:
    """Press a link page's button: a POST with a CSRF field, as the page's form sends."""
    return client.post(url, data={"csrf": csrf(client, "/subscribe")})


def status(store: Store, email: str) -> SubscriberStatus:
    sub = store.get_subscriber(email)
    assert sub is not None
    return sub.status


# --- subscribe and confirm -------------------------------------------------------


def test_subscribe_confirm_and_confirm_again(
    live: LiveApp, client: httpx.Client, store: Store
) -> None:
    answer = subscribe(client, "Reader@Example.ORG", "Europe", "Middle East")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    sub = store.get_subscriber("Reader@example.org")
    assert sub is not None and sub.status is S.PENDING
    assert sub.regions == ("Middle East", "Europe")  # in the config's order
    [mail] = live.mailed(1)
    assert mail.to == "Reader@example.org"
    assert "Confirm your subscription" in mail.subject
    assert mail.confirm_url in mail.html

    confirmed = press(client, mail.confirm_url)
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.text
    assert status(store, "Reader@example.org") is S.ACTIVE
    again = httpx.get(mail.confirm_url)
    assert "already subscribed" in again.text
    assert status(store, "Reader@example.org") is S.ACTIVE


def test_pages_carry_the_security_headers(client: httpx.Client) -> None:
    page = client.get("/subscribe")
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and " style=" not in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    css = client.get("/assets/site.css")
    assert css.status_code == 200 and "#b5121b" in css.text  # the brand's accent


# (status before, status after, confirmation emails sent)
EXISTING = [
    (S.PENDING, S.PENDING, 1),  # sent again
    (S.ACTIVE, S.ACTIVE, 0),
    (S.UNSUBSCRIBED, S.PENDING, 1),  # a new sign-up; still needs confirming
    (S.BOUNCED, S.PENDING, 1),
    (S.COMPLAINED, S.COMPLAINED, 0),  # never mailed on a stranger's say-so
]


def test_an_existing_address_gets_the_same_page(
    live: LiveApp, client: httpx.Client, store: Store, clock: FixedClock
) -> None:
    fresh = subscribe(client, "someone-new@example.org")
    assert fresh.status_code == 200
    total = 1
    for before, after, mails in EXISTING:
        email = f"{before.value}@example.org"
        add(store, email, before, clock)
        clock.advance(timedelta(minutes=15))  # a pending one is mailed again, not at once
        known = subscribe(client, email)
        assert known.status_code == 200
        assert known.text.replace(email, "X") == fresh.text.replace("someone-new@example.org", "X")
        assert status(store, email) is after
        total += mails
        assert sum(m.to == email for m in live.mailed(total)) == mails, before


def test_signing_up_again_and_again_mails_once_per_interval(
    live: LiveApp, client: httpx.Client, clock: FixedClock
) -> None:
    for _ in range(4):
        assert subscribe(client, "target@example.org").status_code == 200
    assert sum(m.to == "target@example.org" for m in live.mailed(1)) == 1
    clock.advance(timedelta(minutes=11))
    assert subscribe(client, "target@example.org").status_code == 200
    assert sum(m.to == "target@example.org" for m in live.mailed(2)) == 2


def test_confirm_never_brings_back_one_who_left(
    live: LiveApp, client: httpx.Client, store: Store, clock: FixedClock
) -> None:
    subscribe(client, "leaver@example.org")
    [mail] = live.mailed(1)
    sub = store.get_subscriber("leaver@example.org")
    assert sub is not None
    one_click = httpx.post(
        live.url(f"/unsubscribe/{token(sub, Purpose.UNSUBSCRIBE, clock)}"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    page = httpx.get(mail.confirm_url)
    assert page.status_code == 200 and "not active" in page.text
    pressed = press(client, mail.confirm_url)
    assert pressed.status_code == 200 and "not active" in pressed.text
    assert status(store, "leaver@example.org") is S.UNSUBSCRIBED


@pytest.mark.parametrize(
    ("email", "regions", "message"),
    [
        ("not-an-address", (), "email"),
        ("", (), "email"),
        ("a@example.org", ("Atlantis",), "unknown region"),
    ],
)
def test_a_bad_sign_up_is_refused_with_the_reason(
    live: LiveApp,
    client: httpx.Client,
    store: Store,
    email: str,
    regions: tuple[str, ...],
    message: str,
) -> None:
    answer = subscribe(client, email, *regions)
    assert answer.status_code == 422
    assert message in answer.text.lower()
    assert store.count_subscribers().get(S.PENDING, 0) == 0
    assert live.mailed() == []


def test_the_honeypot_answers_alike_and_does_nothing(
    live: LiveApp, client: httpx.Client, store: Store
) -> None:
    answer = subscribe(client, "bot@example.org", website="http://spam.example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert store.get_subscriber("bot@example.org") is None
    assert live.mailed() == []


def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(
    live: LiveApp, client: httpx.Client, store: Store
) -> None:
    no_token = client.post("/subscribe", data={"email": "a@example.org"})
    good = csrf(client, "/subscribe")
    forged = client.post("/subscribe", data={"email": "a@example.org", "csrf": "0" * 64})
    cross = client.post(
        "/subscribe",
        data={"email": "a@example.org", "csrf": good},
        headers={"Origin": "https://evil.example"},
    )
    no_cookie = httpx.post(live.url("/subscribe"), data={"email": "a@example.org", "csrf": good})
    assert [r.status_code for r in (no_token, forged, cross, no_cookie)] == [403] * 4
    assert store.get_subscriber("a@example.org") is None


def test_an_oversized_form_is_refused(client: httpx.Client, store: Store) -> None:
    answer = client.post(
        "/subscribe", data={"email": "a@example.org", "csrf": "x", "pad": "x" * 20_000}
    )
    assert answer.status_code == 413
    chunked = client.post(
        "/subscribe",
        content=iter([b"email=a%40example.org&pad=", b"x" * 20_000]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert store.get_subscriber("a@example.org") is None


# --- preferences -----------------------------------------------------------------


def test_preferences_choose_some_then_every_region(
    client: httpx.Client, store: Store, clock: FixedClock
) -> None:
    sub = add(store, "prefs@example.org", S.ACTIVE, clock)
    path = f"/preferences/{token(sub, Purpose.PREFERENCES, clock)}"
    page = client.get(path)
    assert page.status_code == 200
    for region in REGIONS:
        assert f'value="{region}"' in page.text
    field = csrf(client, path)

    some = client.post(path, data={"csrf": field, "scope": "some", "region": ["Europe"]})
    assert some.status_code == 200 and "You receive: Europe." in some.text
    assert store.get_subscriber("prefs@example.org").regions == ("Europe",)  # type: ignore[union-attr]

    every = client.post(path, data={"csrf": field, "scope": "all", "region": ["Europe"]})
    assert "You receive every region." in every.text
    assert store.get_subscriber("prefs@example.org").regions is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"scope": "some"}, "tick at least one region"),
        ({"scope": "some", "region": ["Atlantis"]}, "unknown region"),
        ({"scope": "everything"}, "choose every region"),
    ],
)
def test_a_bad_preferences_form_changes_nothing(
    client: httpx.Client,
    store: Store,
    clock: FixedClock,
    form: dict[str, object],
    message: str,
) -> None:
    sub = store.add_subscriber(
        "p@example.org", now=clock.now(), status=S.ACTIVE, regions=("Asia-Pacific",)
    )
    path = f"/preferences/{token(sub, Purpose.PREFERENCES, clock)}"
    answer = client.post(path, data={"csrf": csrf(client, path), **form})
    assert answer.status_code == 422 and message in answer.text
    assert store.get_subscriber("p@example.org").regions == ("Asia-Pacific",)  # type: ignore[union-attr]


# --- unsubscribe -----------------------------------------------------------------


def test_the_unsubscribe_page_asks_and_the_button_unsubscribes(
    client: httpx.Client, store: Store, clock: FixedClock
) -> None:
    sub = add(store, "leave@example.org", S.ACTIVE, clock)
    path = f"/unsubscribe/{token(sub, Purpose.UNSUBSCRIBE, clock)}"
    page = client.get(path)
    assert page.status_code == 200 and "<button" in page.text
    assert status(store, "leave@example.org") is S.ACTIVE  # a GET (a link scanner) changes nothing
    field = csrf(client, path)
    done = client.post(path, data={"csrf": field})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert status(store, "leave@example.org") is S.UNSUBSCRIBED
    assert "You are unsubscribed" in client.get(path).text
    without_csrf = client.post(path, data={})
    assert without_csrf.status_code == 403


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_click_unsubscribe_rfc8058(
    live: LiveApp, store: Store, clock: FixedClock, multipart: bool
) -> None:
    sub = add(store, "oneclick@example.org", S.ACTIVE, clock)
    url = live.url(f"/unsubscribe/{token(sub, Purpose.UNSUBSCRIBE, clock)}")
    body = {"List-Unsubscribe": "One-Click"}
    for _ in range(2):  # and idempotent
        if multipart:
            answer = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        else:
            answer = httpx.post(url, data=body)
        assert answer.status_code == 200
        assert answer.text == "unsubscribed\n"
        assert status(store, "oneclick@example.org") is S.UNSUBSCRIBED


# --- tokens that must not work ---------------------------------------------------


def _altered(t: str) -> str:
    i = len(t) // 2
    return t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1 :]


@pytest.mark.parametrize("path", ["confirm", "preferences", "unsubscribe"])
def test_bad_tokens_get_a_clear_page_and_change_nothing(
    live: LiveApp, store: Store, clock: FixedClock, path: str
) -> None:
    sub = add(store, "victim@example.org", S.PENDING, clock)
    assert sub.public_id is not None
    purpose = Purpose(path)
    good = token(sub, purpose, clock)
    other = Purpose.CONFIRM if path != "confirm" else Purpose.PREFERENCES
    forger = "another-secret-" + "x" * 40
    bad = {
        "forged": make_token(forger, purpose, sub.public_id, sub.email, clock.now()),
        "altered": _altered(good),
        "truncated": good[:-4],
        "wrong_purpose": token(sub, other, clock),
        "expired": good,  # last: the clock moves past every link's lifetime
    }
    for kind, bad_token in bad.items():
        if kind == "expired":
            clock.advance(timedelta(days=400))
        expected = 410 if kind == "expired" else 400
        heading = "This link has expired" if kind == "expired" else "This link is not valid"
        url = live.url(f"/{path}/{bad_token}")
        page = httpx.get(url)
        assert page.status_code == expected, kind
        assert heading in page.text and "Nothing was changed" in page.text, kind
        posted = httpx.post(url, data={"List-Unsubscribe": "One-Click", "scope": "all"})
        assert posted.status_code == expected, kind
    after = store.get_subscriber("victim@example.org")
    assert after is not None and after.status is S.PENDING and after.regions is None


def test_a_token_for_a_deleted_or_other_subscriber_does_not_work(
    live: LiveApp, store: Store, clock: FixedClock
) -> None:
    sub = add(store, "real@example.org", S.ACTIVE, clock)
    assert sub.public_id is not None
    now = clock.now()
    other_email = make_token(SECRET, Purpose.UNSUBSCRIBE, sub.public_id, "other@example.org", now)
    missing = make_token(SECRET, Purpose.UNSUBSCRIBE, "x" * 22, "real@example.org", now)
    for t in (other_email, missing):
        assert (
            httpx.post(
                live.url(f"/unsubscribe/{t}"), data={"List-Unsubscribe": "One-Click"}
            ).status_code
            == 400
        )
    assert status(store, "real@example.org") is S.ACTIVE


# --- webhook ---------------------------------------------------------------------


def test_webhook_signed_unsigned_badly_signed_and_replayed(
    live: LiveApp, store: Store, clock: FixedClock, signer: WebhookSigner
) -> None:
    add(store, "hook@example.org", S.ACTIVE, clock)
    body = body_of([{"sg_event_id": "ev-1", "event": "spamreport", "email": "hook@example.org"}])
    url = live.url("/webhooks/sendgrid")
    headers = signer.sign(body, clock.now())
    stale = signer.sign(body, clock.now() - timedelta(minutes=30))

    refused = [
        httpx.post(url, content=body),
        httpx.post(url, content=body, headers=WebhookSigner().sign(body, clock.now())),
        httpx.post(url, content=body.replace(b"ev-1", b"ev-2"), headers=headers),
        httpx.post(url, content=body, headers=stale),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert status(store, "hook@example.org") is S.ACTIVE

    first = httpx.post(url, content=body, headers=headers)
    assert first.status_code == 200 and first.json()["applied"] == 1
    assert status(store, "hook@example.org") is S.COMPLAINED
    store.set_subscriber_status(
        store.get_subscriber("hook@example.org").id,
        S.ACTIVE,
        now=clock.now(),  # type: ignore[union-attr, arg-type]
    )
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json() == {
        "applied": 0,
        "replayed": 1,
        "ignored": 0,
    }
    assert status(store, "hook@example.org") is S.ACTIVE


def test_webhook_without_a_configured_key_applies_nothing(
    database_url: str, store: Store, clock: FixedClock, tmp_path: Path, signer: WebhookSigner
) -> None:
    add(store, "hook@example.org", S.ACTIVE, clock)
    body = body_of([{"sg_event_id": "ev-1", "event": "bounce", "email": "hook@example.org"}])
    with LiveApp(database_url, fixture_config(), clock, tmp_path / "outbox", "") as app:
        answer = httpx.post(
            app.url("/webhooks/sendgrid"), content=body, headers=signer.sign(body, clock.now())
        )
    assert answer.status_code == 503
    assert status(store, "hook@example.org") is S.ACTIVE


def test_an_oversized_webhook_post_is_refused(live: LiveApp) -> None:
    answer = httpx.post(live.url("/webhooks/sendgrid"), content=b" " * 2_000_001)
    assert answer.status_code == 413
