"""The public archive: every edition readers received, as web pages and an Atom feed.

What it does: ``/editions`` lists the sent editions (and one being sent),
``/editions/KEY`` shows one as the email showed it (the same render, house style
and all) with its personal links replaced by the public ``/manage`` page, and
``/editions/feed.atom`` is an Atom feed with one entry per sent edition. A draft,
an approved or a rejected edition is 404 here: editors see it under ``/desk``.
What it does not do: show anything a subscriber's own links would (no tokens).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from bot import overview, pipeline
from bot.render.links import edition_url
from bot.render.model import edition_date, subject_line
from bot.types import Edition
from bot.web.desk.common import EMAIL_CSP, call, public_html
from bot.web.state import AppState, state_of
from bot.web.views import render_page

router = APIRouter()
# The archive page is the email: inline styles, no script, may be framed by nobody.
ARCHIVE_CSP = EMAIL_CSP.replace("; sandbox", "; frame-ancestors 'none'; sandbox")


def _listing(st: AppState) -> list[dict[str, Any]]:
    news = st.ctx.config.newsletter
    return [
        {
            "key": e.key,
            "subject": subject_line(e, news, edition_date(e, news)),
            "date": edition_date(e, news),
            "url": edition_url(news, e.key),
            "updated": e.sent_at or e.updated_at or e.window_end,
        }
        for e in overview.public_editions(st.ctx)
    ]


@router.get("/editions", response_class=HTMLResponse)
async def archive(request: Request) -> Response:
    st = state_of(request)
    editions = await call(_listing, st)
    html = render_page(st.ctx.config, "archive/list.html", editions=editions, csrf="")
    return HTMLResponse(html)


@router.get("/editions/feed.atom")
async def feed(request: Request) -> Response:
    st = state_of(request)
    editions = await call(_listing, st)
    base = str(st.ctx.config.newsletter.base_url or "").rstrip("/")
    updated = max((e["updated"] for e in editions), default=datetime(2000, 1, 1, tzinfo=UTC))
    xml = render_page(
        st.ctx.config,
        "archive/feed.atom",
        editions=editions,
        base=base,
        updated=updated,
        csrf="",
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


def _public_render(st: AppState, key: str) -> str:
    found: Edition | None = overview.public_edition(st.ctx, key)
    if found is None:
        raise HTTPException(404, f"there is no sent edition {key}")
    return public_html(st.ctx.config, pipeline.render(st.ctx, found).html)


@router.get("/editions/{key}", response_class=HTMLResponse)
async def edition_page(request: Request, key: str) -> Response:
    st = state_of(request)
    html = await call(_public_render, st, key[:40])
    return HTMLResponse(html, headers={"content-security-policy": ARCHIVE_CSP})


@router.get("/manage", response_class=HTMLResponse)
async def manage(request: Request) -> Response:
    """Where an archived edition's unsubscribe and preferences links lead."""
    st = state_of(request)
    return HTMLResponse(render_page(st.ctx.config, "archive/manage.html", csrf=""))
