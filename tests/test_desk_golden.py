"""Golden files of the desk and the archive: the pages as served, byte for byte,
with only what differs between runs normalised (the app's port, CSRF tokens).
Regenerate with ``ROUNDUP_UPDATE_GOLDEN=1`` (``make golden``) and review the diff."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from bot import edition as editions
from bot import pipeline
from bot.clock import FixedClock
from bot.context import open_context
from bot.send import make_transport
from tests.desk_helpers import EDITOR, KEY, logged_in, seed
from tests.render_editions import fixture_config
from tests.test_render_golden import _compare
from tests.webapp import SECRET, LiveApp

_CSRF = re.compile(r'name="csrf" value="[^"]+"')


def _normal(app: LiveApp, text: str) -> str:
    return _CSRF.sub('name="csrf" value="CSRF"', text.replace(app.base_url, "http://app"))


def test_golden_desk_and_archive_pages(sqlite_url: str, tmp_path: Path) -> None:
    clock = FixedClock()
    with LiveApp(sqlite_url, fixture_config(), clock, tmp_path / "outbox") as app:
        seed(sqlite_url, app.config, clock)
        with httpx.Client(base_url=app.base_url, timeout=20) as anon:
            _compare("desk/login.html", _normal(app, anon.get("/login").text))
        with logged_in(app.base_url, EDITOR) as editor:
            _compare("desk/edition.html", _normal(app, editor.get(f"/desk/editions/{KEY}").text))
        with open_context(app.config, database_url=sqlite_url, clock=clock) as ctx:
            editions.approve(ctx.store, ctx.config, KEY, EDITOR, clock.now())
            transport = make_transport(ctx, "outbox")
            try:
                assert pipeline.send(ctx, KEY, transport=transport, secret=SECRET).ok
            finally:
                transport.close()
        with httpx.Client(base_url=app.base_url, timeout=20) as anon:
            _compare("archive/list.html", _normal(app, anon.get("/editions").text))
            _compare("archive/feed.atom", _normal(app, anon.get("/editions/feed.atom").text))
            _compare("archive/edition.html", _normal(app, anon.get(f"/editions/{KEY}").text))
