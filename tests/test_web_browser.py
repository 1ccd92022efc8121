"""The public pages in a real headless Chromium: sign up through the form, follow
the confirmation link from the outbox, change preferences, unsubscribe with the
button. Plain HTML forms, no script; the CSP must not block anything the pages use.

Skips with the reason when no Chromium is installed, unless
``ROUNDUP_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from bot.clock import FixedClock
from bot.store import open_store
from bot.types import SubscriberStatus
from tests.browser import launch, loopback_page
from tests.render_editions import fixture_config
from tests.webapp import LiveApp

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def test_sign_up_confirm_choose_regions_and_unsubscribe_in_a_browser(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    # One database is enough here: test_web_app.py runs every flow on both.
    clock = FixedClock()
    store = open_store(sqlite_url)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # The logo is on the publication's site, which the loopback-only page
        # cannot reach; what must never appear is a Content Security Policy refusal.
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    with (
        LiveApp(sqlite_url, fixture_config(), clock, tmp_path / "outbox") as app,
        loopback_page(browser, 800) as page,
    ):
        page.on("console", console)
        page.goto(app.url("/subscribe"))  # waits for the load event: the stylesheet too
        # The brand stylesheet loaded (not blocked by the CSP): the accent is applied.
        accent = page.evaluate("getComputedStyle(document.querySelector('.card')).borderTopColor")
        assert accent == "rgb(181, 18, 27)"
        page.get_by_label("Your email address").fill("browser@example.org")
        page.get_by_label("Europe").check()
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

        [mail] = app.mailed(1)
        page.goto(mail.confirm_url)
        # Opening the link (as a mail scanner does) only shows the button.
        expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
        pending = store.get_subscriber("browser@example.org")
        assert pending is not None and pending.status is SubscriberStatus.PENDING
        page.get_by_role("button", name="Confirm my subscription").click()
        expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
        sub = store.get_subscriber("browser@example.org")
        assert sub is not None and sub.status is SubscriberStatus.ACTIVE
        assert sub.regions == ("Europe",)

        page.get_by_role("link", name="Choose your regions").click()
        page.get_by_label("Only the regions ticked below").check()
        page.get_by_label("Middle East").check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_text("You receive: Middle East, Europe.")).to_be_visible()
        again = store.get_subscriber("browser@example.org")
        assert again is not None and again.regions == ("Middle East", "Europe")

        page.get_by_role("link", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    gone = store.get_subscriber("browser@example.org")
    store.close()
    assert gone is not None and gone.status is SubscriberStatus.UNSUBSCRIBED
    assert problems == []


def test_a_forged_link_in_a_browser_shows_the_problem_page(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    with (
        LiveApp(sqlite_url, fixture_config(), FixedClock(), tmp_path / "outbox") as app,
        loopback_page(browser, 400) as page,
    ):
        response = page.goto(app.url("/preferences/not-a-real-token"))
        assert response is not None and response.status == 400
        expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        expect(page.get_by_text("Nothing was changed")).to_be_visible()
