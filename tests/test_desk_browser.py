"""The desk and the archive in a real headless Chromium against the app on 127.0.0.1.

An editor logs in, reorders and excludes stories, writes the intro, sees the
preview change and approves; a later edit voids the approval; the send page is 403
to an editor; ops sends from it and the outbox holds one message per subscriber; a
POST stripped of its CSRF token changes nothing; a story whose feed carried a
script shows inert; the archive and its Atom feed list the sent edition, and the
"View this email in your browser" link of the sent email opens it. Screenshots of
the dashboard, the edition page and the archive go to ``var/screenshots/``.

Skips with the reason when no Chromium is installed, unless
``ROUNDUP_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from bot.clock import FixedClock
from bot.store import open_store
from bot.types import Edition, EditionState
from tests.browser import launch, loopback_page
from tests.desk_helpers import EDITOR, KEY, OPS, PASSWORD, SCRIPT_TITLE, SUBSCRIBERS, seed
from tests.render_editions import fixture_config
from tests.webapp import LiveApp

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "screenshots"
GULF = "Gulf states weigh a new security pact"
_BROWSER_LINK = re.compile(r'View this email <a href="([^"]+)"')


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def _log_in(page: Page, app: LiveApp, name: str) -> None:
    page.goto(app.url("/desk"))  # anonymous: sent to the login form
    assert page.url.startswith(app.url("/login"))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def _edition(app: LiveApp) -> Edition:
    with open_store(app.database_url) as store:
        found = store.get_edition(KEY)
    assert found is not None
    return found


def _story(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.story[data-item="{key}"]')


def test_editor_shapes_and_approves_ops_sends_readers_find_it(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    # One database here: test_desk_web.py runs the rules on SQLite and PostgreSQL.
    clock = FixedClock()
    dialogs: list[str] = []

    def dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    with (
        LiveApp(sqlite_url, fixture_config(), clock, tmp_path / "outbox") as app,
        loopback_page(browser, 1400, 1000) as page,
    ):
        seed(sqlite_url, app.config, clock)
        page.on("dialog", dialog)
        page.context.on("page", lambda p: p.on("dialog", dialog))
        _log_in(page, app, EDITOR)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "desk-dashboard.png"), full_page=True)

        page.get_by_role("link", name=f"Edition {KEY}").click()
        expect(page.locator("#state")).to_have_text("draft")
        # The script payload of a feed shows as text, and nothing runs.
        expect(_story(page, "ap-1").locator("h3")).to_contain_text('<script>alert("title")')
        # Reorder: the newest Middle East story goes down one place.
        first, second = "me-1", "me-2"
        _story(page, first).get_by_role("button", name="Down").click()
        order = [
            x
            for x in page.locator(".story").evaluate_all("els => els.map(e => e.dataset.item)")
            if x in (first, second)
        ]
        assert order == [second, first]
        # Exclude a story.
        _story(page, "eu-1").get_by_role("button", name="Exclude").click()
        expect(_story(page, "eu-1")).to_have_class(re.compile("excluded"))
        # The intro, and the preview follows it.
        preview = page.frame_locator("iframe.desktop")
        expect(preview.get_by_role("link", name=GULF)).to_be_visible()
        expect(preview.get_by_text("A week of talks")).to_have_count(0)
        page.get_by_label("Editors' intro (Markdown)").fill("A week of **talks** and pacts.")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(preview.get_by_text("A week of")).to_be_visible()
        expect(page.frame_locator("iframe.mobile").get_by_text("A week of")).to_be_visible()
        expect(page.locator("#text-preview")).to_contain_text("A week of talks and pacts.")
        assert page.locator("iframe.desktop").get_attribute("sandbox") == ""
        page.get_by_role("button", name="Approve").click()
        expect(page.locator("#approval")).to_contain_text(f"Approved by {EDITOR}")
        # Both previews painted before the picture is taken.
        expect(page.frame_locator("iframe.mobile").get_by_text("A week of")).to_be_visible()
        expect(preview.get_by_text("A week of")).to_be_visible()
        # Frames below the fold are not painted in a full-page capture: a tall window.
        page.set_viewport_size({"width": 1400, "height": 3200})
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / "desk-edition.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})
        assert _edition(app).state is EditionState.APPROVED

        # A later edit voids the approval, and the page says so.
        _story(page, "me-2").get_by_role("button", name="Pin").click()
        expect(page.locator("#state")).to_have_text("draft")
        expect(page.locator("#voided")).to_contain_text(f"approval by {EDITOR} was voided")
        page.get_by_role("button", name="Approve").click()
        expect(page.locator("#state")).to_have_text("approved")

        # A POST stripped of its CSRF token changes nothing.
        version = _edition(app).version
        page.locator("#fields input[name=csrf]").evaluate("e => e.remove()")
        page.get_by_label("Editors' intro (Markdown)").fill("Forged intro")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("#error")).to_contain_text("nothing was saved")
        after = _edition(app)
        assert after.version == version and after.state is EditionState.APPROVED
        assert "Forged" not in after.intro

        # The send page is ops' alone.
        refused = page.goto(app.url(f"/desk/editions/{KEY}/send"))
        assert refused is not None and refused.status == 403
        # The stories page shows the payload inert too.
        page.goto(app.url("/desk/stories"))
        expect(page.get_by_text(SCRIPT_TITLE)).to_be_visible()
        _log_out(page)

        _log_in(page, app, OPS)
        page.goto(app.url(f"/desk/editions/{KEY}/send"))
        expect(page.locator("#recipients")).to_contain_text(f"{len(SUBSCRIBERS)} active")
        page.get_by_role("button", name="Send", exact=True).click()
        # The page refreshes itself (no script) while the send runs.
        expect(page.locator("#state")).to_have_text("sent", timeout=60_000)
        expect(page.locator("#batches")).to_contain_text("accepted")
        box = mailbox.mbox(tmp_path / "outbox" / f"{KEY}.mbox")
        try:
            messages = list(box)
        finally:
            box.close()
        assert sorted(str(m["To"]) for m in messages) == sorted(SUBSCRIBERS)
        html = next(
            part.get_payload(decode=True).decode()
            for part in messages[0].walk()
            if part.get_content_type() == "text/html"
        )
        link = _BROWSER_LINK.search(html)
        assert link is not None

        # Readers: the archive, its feed, and the email's own browser link.
        page.goto(app.url("/editions"))
        page.get_by_role("link", name=re.compile("Weekly Round-Up")).click()
        expect(page.get_by_role("link", name=GULF)).to_be_visible()
        page.screenshot(path=str(SHOTS / "archive.png"), full_page=True)
        page.goto(link.group(1).replace("&amp;", "&"))
        assert page.url == app.url(f"/editions/{KEY}")
        expect(page.get_by_text("A week of")).to_be_visible()
        feed = page.request.get(app.url("/editions/feed.atom"))
        assert f"{app.url('/editions/' + KEY)}" in feed.text()
    assert dialogs == []
