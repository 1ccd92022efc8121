"""The desk's dashboard (``/desk``), its stories list (``/desk/stories``) and ops' actions.

What it does: shows the current edition and its state, the feeds with their health,
the last sends with their counts and the stories not in any edition; lists every
stored story with search and filters (region, feed, dates, in an edition or not)
and a button that adds one to the current draft; and lets ops poll every feed now,
draft this week's edition now, and pause or resume a feed (each in the audit log).
What it does not do: read the store, or send (``bot.web.desk.sending``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot import overview, pipeline
from bot.context import Context
from bot.types import EditionState
from bot.web.auth import (
    check_csrf,
    desk_page,
    desk_redirect,
    forbidden_page,
    read_form,
    require,
)
from bot.web.desk.common import call
from bot.web.state import state_of

router = APIRouter()


@router.get("/desk", response_class=HTMLResponse)
async def dashboard(request: Request, done: str = "") -> Response:
    desk = await require(request)
    st = state_of(request)
    board = await call(overview.dashboard, st.ctx)
    notice = NOTICES.get(done, "")
    return desk_page(request, desk, "dashboard.html", board=board, notice=notice, now=st.now())


@router.post("/desk/poll")
async def poll_now(request: Request) -> Response:
    form = await read_form(request)
    desk = await require(request, "poll")
    if not check_csrf(request, desk, form):
        return forbidden_page(request, desk, "The form was out of date, so nothing was done.")
    st = state_of(request)
    await call(_poll, st.ctx)
    return desk_redirect(request, desk, "/desk?done=polled")


def _poll(ctx: Context) -> None:
    pipeline.poll(ctx, force=True)


NOTICES = {
    "polled": "Polled every feed.",
    "drafted": "This week's edition is drafted.",
    "paused": "The feed is paused: it is not polled until it is resumed.",
    "resumed": "The feed is polled again.",
}


@router.post("/desk/draft")
async def draft_now(request: Request) -> Response:
    form = await read_form(request)
    desk = await require(request, "draft")
    if not check_csrf(request, desk, form):
        return forbidden_page(request, desk, "The form was out of date, so nothing was done.")
    st = state_of(request)
    await call(lambda ctx: pipeline.draft(ctx, actor=desk.user.name), st.ctx)
    return desk_redirect(request, desk, "/desk?done=drafted")


@router.post("/desk/feeds/{name}/{action}")
async def pause_feed(request: Request, name: str, action: str) -> Response:
    form = await read_form(request)
    desk = await require(request, "pause")
    if action not in ("pause", "resume"):
        return forbidden_page(request, desk, "A feed can be paused or resumed, nothing else.")
    if not check_csrf(request, desk, form):
        return forbidden_page(request, desk, "The form was out of date, so nothing was done.")
    paused, actor = action == "pause", desk.user.name
    st = state_of(request)
    await call(lambda ctx: pipeline.set_feed_paused(ctx, name, paused, actor=actor), st.ctx)
    return desk_redirect(request, desk, f"/desk?done={'paused' if paused else 'resumed'}")


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@router.get("/desk/stories", response_class=HTMLResponse)
async def stories(
    request: Request,
    q: str = "",
    region: str = "",
    feed: str = "",
    since: str = "",
    until: str = "",
    placed: str = "",
) -> Response:
    desk = await require(request)
    st = state_of(request)
    wanted = overview.StoryFilter(
        query=q[:200],
        region=region or None,
        feed=feed or None,
        since=_date(since),
        until=_date(until),
        in_edition={"yes": True, "no": False}.get(placed),
    )
    rows = await call(overview.stories, st.ctx, wanted)
    current = await call(overview.current_edition, st.ctx)
    draft = current if current is not None and current.state is EditionState.DRAFT else None
    in_draft = {x.item_key for x in draft.entries} if draft else set()
    back = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    return desk_page(
        request,
        desk,
        "stories.html",
        rows=rows,
        draft=draft,
        in_draft=in_draft,
        back=back,
        f={
            "q": q,
            "region": region,
            "feed": feed,
            "since": since,
            "until": until,
            "placed": placed,
        },
        regions=st.ctx.config.region_names,
        feeds=[f.name for f in st.ctx.config.feeds],
    )
