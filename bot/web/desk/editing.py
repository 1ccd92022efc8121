"""The edition page, ``/desk/editions/KEY``: shape, preview, test, approve or reject.

What it does: shows the draft as sections by region (each story with its
classifier's reason and other candidates, and buttons to move it up or down, pin,
exclude, move to another section, and edit its headline and lede), the subject,
preheader and intro, previews of the rendered email (desktop and mobile width in
sandboxed frames, and the text part), "Send test", "Approve", "Reject" with a note
and "Reopen"; and applies each form through `bot.edition`. Every form carries the
edition's version: a form saved from an older version is refused (409) with what
was saved since.
What it does not do: send the edition (`bot.web.desk.sending`) or read the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from bot import edition as editions
from bot import pipeline
from bot.errors import NotFoundError, RoundupError, StaleEditionError, UsageError
from bot.send import make_transport
from bot.send.runner import send_test
from bot.types import Edition
from bot.web.auth import Desk, check_csrf, desk_page, desk_redirect, read_form, require
from bot.web.desk.common import (
    EMAIL_CSP,
    FRAMING_CSP,
    call,
    edition_view,
    public_html,
    public_text,
)
from bot.web.state import AppState, state_of

log = logging.getLogger(__name__)
router = APIRouter()

# The role's permission each form action needs.
PERMISSION = {
    **dict.fromkeys(
        ("up", "down", "pin", "unpin", "exclude", "include", "move", "text", "fields", "add"),
        "edit",
    ),
    "reopen": "edit",
    "approve": "approve",
    "reject": "reject",
    "send_test": "send_test",
}
NOTICES = {
    "saved": "Saved.",
    "approved": "Approved: ops can send it now.",
    "rejected": "Rejected. The note is kept for the next editor.",
    "reopened": "Reopened as a draft.",
    "test_sent": "A test copy is on its way to your address.",
    "added": "The story was added to the draft.",
}


def _path(key: str) -> str:
    return f"/desk/editions/{key}"


def _render(ctx_state: AppState, e: Edition) -> tuple[str, str]:
    rendered = pipeline.render(ctx_state.ctx, e)
    config = ctx_state.ctx.config
    return public_html(config, rendered.html), public_text(config, rendered.text)


async def edition_page(
    request: Request,
    desk: Desk,
    key: str,
    code: int = 200,
    *,
    notice: str = "",
    error: str = "",
    stale: list[Any] | None = None,
    submitted: dict[str, str] | None = None,
) -> HTMLResponse:
    st = state_of(request)
    view = await call(edition_view, st, key)
    _html, text = await call(_render, st, view.edition)
    return desk_page(
        request,
        desk,
        "edition.html",
        code,
        headers={"content-security-policy": FRAMING_CSP},
        view=view,
        e=view.edition,
        regions=st.ctx.config.region_names,
        text_preview=text,
        notice=notice,
        error=error,
        stale=stale or [],
        submitted=submitted or {},
    )


@router.get("/desk/editions/{key}", response_class=HTMLResponse)
async def show(request: Request, key: str, done: str = "") -> Response:
    desk = await require(request)
    return await edition_page(request, desk, key, notice=NOTICES.get(done, ""))


@router.get("/desk/editions/{key}/preview.html", response_class=HTMLResponse)
async def preview(request: Request, key: str) -> Response:
    """The rendered email alone, for the page's sandboxed frames."""
    await require(request)
    st = state_of(request)
    view = await call(edition_view, st, key)
    html, _text = await call(_render, st, view.edition)
    headers = {"content-security-policy": EMAIL_CSP, "x-frame-options": "SAMEORIGIN"}
    return HTMLResponse(html, headers=headers)


def _text(form: FormData, name: str, limit: int = 25_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _version(form: FormData) -> int:
    value = _text(form, "version", 20)
    if not value.isdigit():
        raise UsageError("the form has no edition version: reload the page and try again")
    return int(value)


def _section_index(e: Edition, item: str) -> int:
    for entries in editions.sections(e.entries).values():
        for i, x in enumerate(entries):
            if x.item_key == item:
                return i
    raise NotFoundError(f"story {item!r} is not in edition {e.key}")


def _apply(st: AppState, desk: Desk, key: str, action: str, form: FormData) -> str:
    """Apply one form to the edition; the notice code to show after it."""
    ctx, store, now, actor = st.ctx, st.ctx.store, st.now(), desk.user.name
    version = _version(form)
    item = _text(form, "item", 2000)
    common: dict[str, Any] = {"actor": actor, "now": now, "version": version}
    ops: dict[str, Callable[[], object]] = {
        "pin": lambda: editions.pin(store, key, item, **common),
        "unpin": lambda: editions.unpin(store, key, item, **common),
        "exclude": lambda: editions.exclude(store, key, item, **common),
        "include": lambda: editions.include(store, key, item, **common),
        "add": lambda: editions.add_story(store, key, item, **common),
        "move": lambda: editions.move(
            store, ctx.config, key, item, _text(form, "region", 200), **common
        ),
        "reopen": lambda: editions.reopen(store, key, **common),
        "reject": lambda: editions.reject(store, key, reason=_text(form, "note", 1000), **common),
        "approve": lambda: editions.approve(store, ctx.config, key, actor, now, version=version),
    }
    if action in ("up", "down"):
        e = editions.load(store, key)
        editions.check_version(e, version)
        at = _section_index(e, item) + (-1 if action == "up" else 1)
        editions.reorder(store, key, item, max(at, 0), **common)
    elif action == "text":
        e = editions.set_headline(store, key, item, _text(form, "headline") or None, **common)
        common["version"] = e.version
        editions.set_lede(store, key, item, _text(form, "lede") or None, **common)
    elif action == "fields":
        e = editions.set_subject(store, key, _text(form, "subject") or None, **common)
        common["version"] = e.version
        e = editions.set_preheader(store, key, _text(form, "preheader") or None, **common)
        common["version"] = e.version
        editions.set_intro(store, key, _text(form, "intro") or None, **common)
    elif action == "send_test":
        return _send_test(st, desk, key)
    elif action in ops:
        ops[action]()
    else:
        raise UsageError(f"unknown action {action!r}")
    return {"approve": "approved", "reject": "rejected", "reopen": "reopened", "add": "added"}.get(
        action, "saved"
    )


def _send_test(st: AppState, desk: Desk, key: str) -> str:
    if not desk.user.email:
        raise UsageError(
            "your account has no email address, so there is nowhere to send a test; "
            "ask ops to add one (`roundup users add ... --email`)"
        )
    transport = make_transport(st.ctx)
    try:
        report = send_test(st.ctx, key, desk.user.email, transport=transport, secret=st.secret)
    finally:
        transport.close()
    if not report.ok:
        raise UsageError("the test copy was not sent: " + "; ".join(report.errors))
    return "test_sent"


@router.post("/desk/editions/{key}", response_class=HTMLResponse)
async def change(request: Request, key: str) -> Response:
    form = await read_form(request)
    action = _text(form, "action", 40)
    desk = await require(request, PERMISSION.get(action, "edit"))
    if not check_csrf(request, desk, form):
        return await edition_page(
            request, desk, key, 403, error="The form was out of date, so nothing was saved."
        )
    st = state_of(request)
    try:
        done = await call(_apply, st, desk, key, action, form)
    except StaleEditionError as exc:
        view = await call(edition_view, st, key)
        since = view.changes_since(_version(form))
        submitted = {
            k: _text(form, k) for k in ("subject", "preheader", "intro", "headline", "lede", "note")
        }
        return await edition_page(
            request, desk, key, 409, error=str(exc), stale=since, submitted=submitted
        )
    except NotFoundError as exc:
        if await call(_missing, st, key):
            raise HTTPException(404, str(exc)) from None
        return await edition_page(request, desk, key, 404, error=str(exc))
    except RoundupError as exc:
        return await edition_page(request, desk, key, 409, error=str(exc))
    back = form.get("back")
    if isinstance(back, str) and back.startswith("/desk/stories"):
        return desk_redirect(request, desk, back[:1000])
    return desk_redirect(request, desk, f"{_path(key)}?done={done}")


def _missing(st: AppState, key: str) -> bool:
    try:
        editions.load(st.ctx.store, key)
    except NotFoundError:
        return True
    return False
