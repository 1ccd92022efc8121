"""What the desk tests share: a seeded store (stories, a draft, users, subscribers)
and logging in over HTTP with the login form's own CSRF field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx

from bot import accounts
from bot import edition as editions
from bot.clock import FixedClock
from bot.config import Config
from bot.store import open_store
from bot.types import Classification, Item, Role, RuleMatch, SubscriberStatus

KEY = "2026-W48"  # the week of FixedClock's default time
PASSWORD = "correct horse battery"
EDITOR, EDITOR2, OPS = "edna", "eric", "olga"
SUBSCRIBERS = ("a@example.org", "b@example.org", "c@example.org")
SCRIPT_TITLE = '<script>alert("title")</script> Talks resume <img src=x onerror=alert(1)>'
CSRF = re.compile(r'name="csrf" value="([0-9A-Za-z_\-]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')

STORIES = (
    ("me-1", "Middle East", "Gulf states weigh a new security pact"),
    ("me-2", "Middle East", "Ceasefire talks stall over prisoner lists"),
    ("eu-1", "Europe", "Brussels debates the defence budget"),
    ("ap-1", "Asia-Pacific", SCRIPT_TITLE),
)


def seed(database_url: str, config: Config, clock: FixedClock) -> None:
    """Four stories (one carrying a script payload), this week's draft, two editors
    and one ops user, three active subscribers."""
    now = clock.now()
    with open_store(database_url) as store:
        for n, (key, region, title) in enumerate(STORIES):
            url = f"https://responsiblestatecraft.org/{key}/"
            item = Item(
                key=key,
                feed="responsible-statecraft",
                url=url,
                canonical_url=url,
                title=title,
                lede=f"Lede of {key}: what happened and why it matters.",
                author="A. Writer",
                published=now - timedelta(hours=n + 1),
                tags=(region,),
            )
            rule = RuleMatch("tag", region, region, "tags", region)
            store.upsert_items([(item, Classification(region, rule, ("Europe",)))], now)
        editions.draft(store, config, now)
        for name, role in ((EDITOR, Role.EDITOR), (EDITOR2, Role.EDITOR), (OPS, Role.OPS)):
            email = f"{name}@desk.example.org"
            accounts.add_user(store, name, role, PASSWORD, now, email=email)
        for email in SUBSCRIBERS:
            store.add_subscriber(email, now=now, status=SubscriberStatus.ACTIVE)


def form_csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def form_version(html: str) -> int:
    found = VERSION.search(html)
    assert found, html
    return int(found.group(1))


def login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf": form_csrf(page.text)},
    )


@contextmanager
def logged_in(base_url: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=20, follow_redirects=False) as client:
        answer = login(client, name)
        assert answer.status_code == 303 and answer.headers["location"] == "/desk", answer.text
        yield client
