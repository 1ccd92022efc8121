"""The desk and the archive over real HTTP: uvicorn on 127.0.0.1, a real store
(SQLite and PostgreSQL), httpx. Logins, roles, session limits (the shipped
defaults), a disabled user, the login rate limit, CSRF, two editors saving at once,
an approval voided by an edit, and the archive's 404 for editions not sent.
"""

from __future__ import annotations

import mailbox
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot import accounts
from bot.clock import FixedClock
from bot.store import open_store
from bot.types import Classification, EditionState, Item
from tests.desk_helpers import (
    EDITOR,
    EDITOR2,
    KEY,
    OPS,
    PASSWORD,
    form_csrf,
    form_version,
    logged_in,
    login,
    seed,
)
from tests.render_editions import fixture_config
from tests.webapp import LiveApp

EDITION = f"/desk/editions/{KEY}"


@pytest.fixture
def live(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[LiveApp]:
    config = fixture_config()
    with LiveApp(database_url, config, clock, tmp_path / "outbox") as app:
        seed(database_url, app.config, clock)
        yield app


@pytest.fixture
def live_sqlite(sqlite_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[LiveApp]:
    """For flows whose rules the store does not decide: one database is enough."""
    with LiveApp(sqlite_url, fixture_config(), clock, tmp_path / "outbox") as app:
        seed(sqlite_url, app.config, clock)
        yield app


@pytest.fixture
def anon(live: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=20, follow_redirects=False) as c:
        yield c


def _edition_state(live: LiveApp) -> tuple[EditionState, int, str]:
    with open_store(live.database_url) as store:
        e = store.get_edition(KEY)
    assert e is not None
    return e.state, e.version, e.intro


def _post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    page = client.get(EDITION)
    assert page.status_code == 200, page.text
    data = {"csrf": form_csrf(page.text), "version": str(form_version(page.text)), **fields}
    return client.post(path, data=data)


def test_every_desk_page_needs_a_login_and_the_role(live: LiveApp, anon: httpx.Client) -> None:
    for path in ("/desk", EDITION, f"{EDITION}/send", "/desk/stories"):
        answer = anon.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=/desk"), path
    assert anon.post(EDITION, data={"action": "approve"}).status_code == 303
    with logged_in(live.base_url, EDITOR) as editor:
        assert editor.get("/desk").status_code == 200
        assert editor.get(EDITION).status_code == 200
        assert editor.get("/desk/stories").status_code == 200
        refused = editor.get(f"{EDITION}/send")
        assert refused.status_code == 403 and "may not send" in refused.text
        token = form_csrf(editor.get("/desk").text)
        assert editor.post("/desk/poll", data={"csrf": token}).status_code == 403
        assert editor.get("/desk/editions/2020-W01").status_code == 404
    with logged_in(live.base_url, OPS) as ops:
        page = ops.get(f"{EDITION}/send")
        assert page.status_code == 200
        assert "<strong>3</strong> active subscribers" in page.text


def test_session_cookie_flags_and_logout_is_a_post(live_sqlite: LiveApp) -> None:
    with httpx.Client(base_url=live_sqlite.base_url, timeout=20) as client:
        answer = login(client, EDITOR)
        cookie = answer.headers["set-cookie"]
        assert "roundup_desk=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert PASSWORD not in cookie
        assert client.get("/logout").status_code == 405
        token = form_csrf(client.get("/desk").text)
        out = client.post("/logout", data={"csrf": token}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert client.get("/desk", follow_redirects=False).status_code == 303


def test_sessions_end_when_idle_and_at_the_absolute_limit(live: LiveApp, clock: FixedClock) -> None:
    desk = live.config.desk  # the shipped defaults: 2 hours idle, 12 hours in all
    with logged_in(live.base_url, EDITOR) as editor:
        for _ in range(5):  # each request renews the idle limit...
            clock.advance(desk.session_idle - timedelta(minutes=1))
            assert editor.get("/desk").status_code == 200
        clock.advance(desk.session_idle + timedelta(seconds=1))  # ...but not an idle gap
        assert editor.get("/desk").status_code == 303
    with logged_in(live.base_url, EDITOR) as editor:
        used = timedelta(0)
        while used + timedelta(hours=1) < desk.session_max:
            clock.advance(timedelta(hours=1))
            used += timedelta(hours=1)
            assert editor.get("/desk").status_code == 200
        clock.advance(desk.session_max - used + timedelta(seconds=1))
        answer = editor.get("/desk")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_disabled_user_is_out_at_once(live: LiveApp, clock: FixedClock) -> None:
    with logged_in(live.base_url, EDITOR) as editor:
        assert editor.get("/desk").status_code == 200
        with open_store(live.database_url) as store:
            accounts.disable_user(store, EDITOR, clock.now())
        assert editor.get("/desk").status_code == 303
        again = login(editor, EDITOR)
        assert again.status_code == 401 and "name or password is not right" in again.text


def test_a_new_password_ends_the_old_sessions(live: LiveApp, clock: FixedClock) -> None:
    with logged_in(live.base_url, EDITOR) as editor:
        with open_store(live.database_url) as store:
            accounts.set_password(store, EDITOR, "another good password", clock.now())
        assert editor.get("/desk").status_code == 303
        assert login(editor, EDITOR).status_code == 401
        assert login(editor, EDITOR, "another good password").status_code == 303


def test_login_attempts_are_limited_per_account_and_per_address(
    live: LiveApp, anon: httpx.Client, clock: FixedClock
) -> None:
    desk = live.config.desk
    wrong = [login(anon, EDITOR, "not the password") for _ in range(desk.login_per_account)]
    assert {w.status_code for w in wrong} == {401}
    unknown = login(anon, "nobody-here", "not the password")
    # The same answer whether the account exists or not.
    assert unknown.status_code == 401
    assert unknown.text.replace("nobody-here", EDITOR) == wrong[0].text
    limited = login(anon, EDITOR)  # the right password, too late
    assert limited.status_code == 429 and "too many failed logins" in limited.text
    assert login(anon, OPS).status_code == 303  # another account from here still works
    # The per-address limit: many names from one address.
    for n in range(desk.login_per_address):
        login(anon, f"guess{n}", "not the password")
    assert login(anon, EDITOR2).status_code == 429
    clock.advance(desk.login_window + timedelta(seconds=1))
    assert login(anon, EDITOR).status_code == 303


def test_a_post_without_its_csrf_token_changes_nothing(live: LiveApp) -> None:
    before = _edition_state(live)
    with logged_in(live.base_url, EDITOR) as editor:
        page = editor.get(EDITION).text
        version = str(form_version(page))
        for token in ({}, {"csrf": "0" * 64}):
            answer = editor.post(
                EDITION, data={"action": "fields", "intro": "forged", "version": version, **token}
            )
            assert answer.status_code == 403
            approve = editor.post(EDITION, data={"action": "approve", "version": version, **token})
            assert approve.status_code == 403
    # A token from another session does not work either.
    with logged_in(live.base_url, EDITOR2) as other:
        stolen = form_csrf(other.get(EDITION).text)
    with logged_in(live.base_url, EDITOR) as editor:
        data = {"action": "approve", "version": version, "csrf": stolen}
        assert editor.post(EDITION, data=data).status_code == 403
    assert _edition_state(live) == before


def test_two_editors_saving_at_once_do_not_overwrite_each_other(live: LiveApp) -> None:
    with logged_in(live.base_url, EDITOR) as a, logged_in(live.base_url, EDITOR2) as b:
        page_a, page_b = a.get(EDITION).text, b.get(EDITION).text
        version = form_version(page_a)
        assert form_version(page_b) == version
        fields = {"action": "fields", "subject": "", "preheader": "", "version": str(version)}
        saved = a.post(EDITION, data={**fields, "intro": "From A", "csrf": form_csrf(page_a)})
        assert saved.status_code == 303
        refused = b.post(EDITION, data={**fields, "intro": "From B", "csrf": form_csrf(page_b)})
        assert refused.status_code == 409
        assert "changed by someone else" in refused.text
        assert f"{EDITOR}: intro → “From A”" in refused.text  # what changed
        assert "intro: “From B”" in refused.text  # what B typed, so it is not lost
    _state, new_version, intro = _edition_state(live)
    assert intro == "From A" and new_version == version + 1


def test_an_edit_after_approval_returns_it_to_draft(live_sqlite: LiveApp) -> None:
    with logged_in(live_sqlite.base_url, EDITOR) as editor:
        assert _post(editor, EDITION, action="approve").status_code == 303
        page = editor.get(EDITION).text
        assert f"Approved by {EDITOR}" in page
        assert _edition_state(live_sqlite)[0] is EditionState.APPROVED
        assert _post(editor, EDITION, action="exclude", item="me-1").status_code == 303
        page = editor.get(EDITION).text
        assert "approval by edna was voided" in page
    assert _edition_state(live_sqlite)[0] is EditionState.DRAFT


def test_a_rejection_note_is_shown_to_the_next_editor(live_sqlite: LiveApp) -> None:
    with logged_in(live_sqlite.base_url, EDITOR) as editor:
        answer = _post(editor, EDITION, action="reject", note="Too thin on Europe")
        assert answer.status_code == 303
    with logged_in(live_sqlite.base_url, EDITOR2) as other:
        page = other.get(EDITION).text
        assert f"Rejected by {EDITOR}" in page and "Too thin on Europe" in page
        assert _post(other, EDITION, action="reopen").status_code == 303
    assert _edition_state(live_sqlite)[0] is EditionState.DRAFT


def _wait_sent(live: LiveApp) -> None:
    deadline = time.monotonic() + 30
    while _edition_state(live)[0] is not EditionState.SENT:
        assert time.monotonic() < deadline, "the send did not finish"
        time.sleep(0.1)


def test_the_archive_shows_only_what_was_sent(live: LiveApp, anon: httpx.Client) -> None:
    assert anon.get(f"/editions/{KEY}").status_code == 404  # a draft
    assert anon.get("/editions/2020-W01").status_code == 404
    with logged_in(live.base_url, EDITOR) as editor:
        assert _post(editor, EDITION, action="approve").status_code == 303
    assert anon.get(f"/editions/{KEY}").status_code == 404  # approved, not sent
    with logged_in(live.base_url, OPS) as ops:
        token = form_csrf(ops.get(f"{EDITION}/send").text)
        started = ops.post(f"{EDITION}/send", data={"csrf": token, "action": "send"})
        assert started.status_code == 303
        _wait_sent(live)
        page = ops.get(f"{EDITION}/send").text
        assert "accepted" in page and "No batches yet" not in page
    public = anon.get(f"/editions/{KEY}")
    assert public.status_code == 200
    assert "Gulf states weigh a new security pact" in public.text
    assert "-roundup." not in public.text  # no subscriber's links, no tokens
    assert f"{live.base_url}/manage" in public.text
    assert "script-src" not in public.headers["content-security-policy"]
    listing = anon.get("/editions")
    assert listing.status_code == 200 and f'href="/editions/{KEY}"' in listing.text
    atom = anon.get("/editions/feed.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(atom.content).findall("a:entry", ns)
    assert [e.find("a:link", ns).get("href") for e in entries] == [  # type: ignore[union-attr]
        f"{live.base_url}/editions/{KEY}"
    ]


def test_dashboard_stories_filters_and_adding_a_story_by_hand(
    live_sqlite: LiveApp, clock: FixedClock
) -> None:
    old = "https://responsiblestatecraft.org/old-story/"
    item = Item(
        key="old-1",
        feed="responsible-statecraft",
        url=old,
        canonical_url=old,
        title="An older look at Gulf diplomacy",
        lede="From a month ago.",
        published=clock.now() - timedelta(days=30),
    )
    with open_store(live_sqlite.database_url) as store:
        store.upsert_items([(item, Classification("Middle East", None))], clock.now())
    with logged_in(live_sqlite.base_url, EDITOR) as editor:
        board = editor.get("/desk").text
        assert f"Edition {KEY}</a>" in board and "state-draft" in board
        waiting = board.split("Stories waiting")[1]
        assert "An older look at Gulf diplomacy" in waiting and "Gulf states weigh" not in waiting
        found = editor.get("/desk/stories", params={"q": "gulf", "placed": "no"}).text
        assert "An older look at Gulf diplomacy" in found and "Gulf states weigh" not in found
        europe = editor.get("/desk/stories", params={"region": "Europe"}).text
        assert "Brussels debates" in europe and "Gulf" not in europe
        back = "/desk/stories?q=gulf&placed=no"
        page = editor.get(back).text
        added = editor.post(
            EDITION,
            data={
                "action": "add",
                "item": "old-1",
                "version": str(form_version(page)),
                "csrf": form_csrf(page),
                "back": back,
            },
        )
        assert added.status_code == 303 and added.headers["location"] == back
        assert "An older look" in editor.get(EDITION).text
    with open_store(live_sqlite.database_url) as store:
        e = store.get_edition(KEY)
    assert e is not None and "old-1" in {x.item_key for x in e.entries}


def test_send_test_goes_to_the_editors_own_address(live_sqlite: LiveApp) -> None:
    with logged_in(live_sqlite.base_url, EDITOR) as editor:
        answer = _post(editor, EDITION, action="send_test")
        assert answer.status_code == 303 and answer.headers["location"].endswith("done=test_sent")
    box = mailbox.mbox(live_sqlite.outbox / f"{KEY}-test.mbox")
    try:
        [message] = list(box)
    finally:
        box.close()
    assert str(message["To"]) == f"{EDITOR}@desk.example.org"
    assert str(message["Subject"]).startswith("[TEST]")
    assert _edition_state(live_sqlite)[0] is EditionState.DRAFT  # a test records nothing


def test_ops_pause_and_resume_a_feed_and_draft_now_editors_may_not(
    live_sqlite: LiveApp, clock: FixedClock
) -> None:
    feed = live_sqlite.config.feeds[0]
    with open_store(live_sqlite.database_url) as store:
        store.sync_feeds([(feed.name, str(feed.url))], clock.now())
    pause = f"/desk/feeds/{feed.name}/pause"
    with logged_in(live_sqlite.base_url, EDITOR) as editor:
        board = editor.get("/desk").text
        assert pause not in board and "/desk/draft" not in board  # no button...
        refused = editor.post(pause, data={"csrf": form_csrf(board)})
        assert refused.status_code == 403  # ...and no way round it
        assert editor.post("/desk/draft", data={"csrf": form_csrf(board)}).status_code == 403
    with open_store(live_sqlite.database_url) as store:
        assert not any(f.paused for f in store.feed_flags().values())
    with logged_in(live_sqlite.base_url, OPS) as ops:
        board = ops.get("/desk").text
        assert ops.post(pause, data={"csrf": "forged"}).status_code == 403
        done = ops.post(pause, data={"csrf": form_csrf(board)})
        assert done.status_code == 303 and done.headers["location"] == "/desk?done=paused"
        board = ops.get(done.headers["location"]).text
        assert "The feed is paused" in board and f"/desk/feeds/{feed.name}/resume" in board
        with open_store(live_sqlite.database_url) as store:
            assert store.feed_flags()[feed.name].paused
        resumed = ops.post(f"/desk/feeds/{feed.name}/resume", data={"csrf": form_csrf(board)})
        assert resumed.status_code == 303
        drafted = ops.post("/desk/draft", data={"csrf": form_csrf(board)})
        assert drafted.headers["location"] == "/desk?done=drafted"
    with open_store(live_sqlite.database_url) as store:
        assert not store.feed_flags()[feed.name].paused
        log = [(a.actor, a.action, a.detail) for a in store.audit_log("ops")]
    assert log == [
        (OPS, "feed_pause", {"feed": feed.name}),
        (OPS, "feed_resume", {"feed": feed.name}),
    ]
