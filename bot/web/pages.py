"""The public pages: subscribe, confirm, preferences, unsubscribe (RFC 8058 too).

What it does: the HTTP side of `bot.web.flows`: reads bounded forms, checks CSRF
on the state-changing forms, turns token problems into clear pages (400 for a
forged, altered or wrong-purpose link, 410 for an expired one; nothing changes),
and renders the answer. A GET never changes a subscriber: mail scanners and link
prefetchers open every link in a message, so confirming and unsubscribing take a
press of the page's button (a POST). Sign-ups are limited per client address and
per mailbox (`bot.web.signup_limit`, 429 past it); each is answered alike and
quickly, the confirmation mail queued for the background sender. The store work
runs in a worker thread so a slow database never blocks the event loop.
What it does not do: decide anything about subscribers (flows does) or verify
webhooks (`bot.web.hooks`).

RFC 8058: ``POST /unsubscribe/{token}`` whose body holds
``List-Unsubscribe=One-Click`` (form-encoded or multipart, as mail providers send
it) unsubscribes at once and answers 200 with a line of text: no page, no login,
no CSRF token (the mail provider posts it, not a browser that has our cookie).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from bot.errors import RoundupError, TokenError
from bot.store.subscribers import email_key
from bot.subscribers.validate import normalise_email
from bot.tokens import Purpose, TokenExpired
from bot.web import flows
from bot.web.security import (
    CSRF_FIELD,
    csrf_cookie_of,
    csrf_field,
    csrf_ok,
    form_limits,
    same_origin,
    set_csrf_cookie,
)
from bot.web.state import AppState, state_of
from bot.web.views import render_page

T = TypeVar("T")
ONE_CLICK = ("List-Unsubscribe", "One-Click")

router = APIRouter()


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


async def _link(request: Request, purpose: Purpose, token: str, now: datetime) -> flows.Link:
    """The subscriber a link's token names; `TokenError` when it names no one."""
    st = state_of(request)
    return await _call(flows.subscriber_for, st.ctx, st.secret, purpose, token, now)


def page(request: Request, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    """Render `template`; give it a CSRF field, setting the cookie when new."""
    st = state_of(request)
    cookie, new = csrf_cookie_of(request)
    html = render_page(st.ctx.config, template, csrf=csrf_field(st.secret, cookie), **values)
    response = HTMLResponse(html, status_code=code)
    if new:
        set_csrf_cookie(response, cookie, secure=st.secure_cookies)
    return response


def problem(
    request: Request, status: int, heading: str, message: str, hint: str = ""
) -> HTMLResponse:
    return page(request, "problem.html", status, heading=heading, message=message, hint=hint)


def token_problem(request: Request, exc: TokenError) -> HTMLResponse:
    if isinstance(exc, TokenExpired):
        return problem(
            request,
            410,
            "This link has expired",
            "Links in our emails work for a limited time, and this one is past it. "
            "Nothing was changed.",
            "Use the link in a more recent email, or sign up again.",
        )
    return problem(
        request,
        400,
        "This link is not valid",
        "The link is incomplete or was changed after we sent it. Nothing was changed.",
        "Open the link straight from the email, or copy all of it into the address bar.",
    )


async def read_form(request: Request) -> FormData:
    return await request.form(**form_limits())


def csrf_problem(request: Request, form: FormData) -> HTMLResponse | None:
    st = state_of(request)
    cookie = request.cookies.get("roundup_csrf")
    if same_origin(request) and csrf_ok(st.secret, cookie, form.get(CSRF_FIELD)):
        return None
    return problem(
        request,
        403,
        "Please try again",
        "This form was out of date or did not come from our site, so nothing was saved.",
        "Reload the page and submit the form again.",
    )


def _strings(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


# --- subscribe -----------------------------------------------------------------


@router.get("/", include_in_schema=False)
@router.get("/subscribe", response_class=HTMLResponse)
async def subscribe_form(request: Request) -> Response:
    return _subscribe_page(request)


def _subscribe_page(
    request: Request, status: int = 200, error: str = "", email: str = "", chosen: Any = ()
) -> HTMLResponse:
    regions = state_of(request).ctx.config.region_names
    return page(
        request,
        "subscribe.html",
        status,
        error=error,
        email=email,
        chosen=tuple(chosen),
        regions=regions,
    )


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request) -> Response:
    st = state_of(request)
    form = await read_form(request)
    refused = csrf_problem(request, form)
    if refused is not None:
        return refused
    raw_email = form.get("email")
    raw = raw_email.strip()[:320] if isinstance(raw_email, str) else ""
    chosen = _strings(form, "region")
    try:
        email = normalise_email(raw)
        regions = flows.choose_regions(st.ctx.config.region_names, None, chosen)
    except (RoundupError, ValueError) as exc:
        return _subscribe_page(request, 422, str(exc), raw, chosen)
    if form.get("website"):  # the honeypot: only robots fill a field nobody sees
        return page(request, "subscribe_sent.html", email=email)
    client = request.client.host if request.client else "unknown"
    if not st.signup_limits.allow(client, email_key(email), st.now()):
        return problem(
            request,
            429,
            "Too many sign-ups",
            "We received many sign-ups from here or for this address in the last hour, "
            "so this one was not taken.",
            "Please try again in an hour. If you signed up already, check your inbox.",
        )
    await _call(flows.sign_up, st.ctx, email, regions, st.now())
    if st.sender is not None:
        st.sender.wake()
    return page(request, "subscribe_sent.html", email=email)


# --- confirm -------------------------------------------------------------------


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_form(request: Request, token: str) -> Response:
    """The confirmation page: a button to press; opening the link changes nothing."""
    st = state_of(request)
    now = st.now()
    try:
        link = await _link(request, Purpose.CONFIRM, token, now)
    except TokenError as exc:
        return token_problem(request, exc)
    outcome = flows.confirm_outcome(link.subscriber.status)
    if outcome is flows.ConfirmOutcome.ACTIVATED:
        return page(
            request, "confirm.html", outcome="ask", email=link.subscriber.email, preferences_url=""
        )
    return _confirmed_page(request, link, outcome, now)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> Response:
    st = state_of(request)
    now = st.now()
    try:
        link = await _link(request, Purpose.CONFIRM, token, now)
    except TokenError as exc:
        return token_problem(request, exc)
    form = await read_form(request)
    refused = csrf_problem(request, form)
    if refused is not None:
        return refused
    outcome = await _call(flows.confirm, st.ctx, link, now)
    return _confirmed_page(request, link, outcome, now)


def _confirmed_page(
    request: Request, link: flows.Link, outcome: flows.ConfirmOutcome, now: datetime
) -> HTMLResponse:
    st = state_of(request)
    prefs = (
        flows.link_url(st.ctx, st.secret, Purpose.PREFERENCES, link.subscriber, now)
        if outcome is not flows.ConfirmOutcome.NOT_PENDING
        else ""
    )
    return page(
        request,
        "confirm.html",
        outcome=outcome.value,
        email=link.subscriber.email,
        preferences_url=prefs,
    )


# --- preferences ---------------------------------------------------------------


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def preferences_form(request: Request, token: str) -> Response:
    st = state_of(request)
    try:
        link = await _link(request, Purpose.PREFERENCES, token, st.now())
    except TokenError as exc:
        return token_problem(request, exc)
    return _preferences_page(request, link)


def _preferences_page(
    request: Request,
    link: flows.Link,
    status: int = 200,
    saved: str = "",
    error: str = "",
) -> HTMLResponse:
    st = state_of(request)
    sub = link.subscriber
    return page(
        request,
        "preferences.html",
        status,
        email=sub.email,
        sub_status=sub.status.value,
        receiving=flows.receiving(sub.status),
        regions=st.ctx.config.region_names,
        all=sub.regions is None,
        chosen=sub.regions or (),
        saved=saved,
        error=error,
        unsubscribe_url=(
            flows.link_url(st.ctx, st.secret, Purpose.UNSUBSCRIBE, sub, st.now())
            if flows.receiving(sub.status)
            else ""
        ),
    )


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences(request: Request, token: str) -> Response:
    st = state_of(request)
    now = st.now()
    try:
        link = await _link(request, Purpose.PREFERENCES, token, now)
    except TokenError as exc:
        return token_problem(request, exc)
    form = await read_form(request)
    refused = csrf_problem(request, form)
    if refused is not None:
        return refused
    scope = form.get("scope")
    try:
        regions = flows.choose_regions(
            st.ctx.config.region_names,
            scope if isinstance(scope, str) else "some",
            _strings(form, "region"),
        )
    except ValueError as exc:
        return _preferences_page(request, link, 422, error=str(exc))
    updated = await _call(flows.save_regions, st.ctx, link, regions, now)
    summary = (
        "You receive every region."
        if regions is None
        else "You receive: " + ", ".join(regions) + "."
    )
    return _preferences_page(request, flows.Link(updated, link.claims), saved=summary)


# --- unsubscribe ---------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_form(request: Request, token: str) -> Response:
    st = state_of(request)
    now = st.now()
    try:
        link = await _link(request, Purpose.UNSUBSCRIBE, token, now)
    except TokenError as exc:
        return token_problem(request, exc)
    done = flows.unsubscribe_outcome(link.subscriber.status) is flows.UnsubscribeOutcome.ALREADY
    return page(
        request,
        "unsubscribe.html",
        done=done,
        email=link.subscriber.email,
        preferences_url=flows.link_url(
            st.ctx, st.secret, Purpose.PREFERENCES, link.subscriber, now
        ),
    )


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    st = state_of(request)
    now = st.now()
    form = await read_form(request)
    one_click = form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    try:
        link = await _link(request, Purpose.UNSUBSCRIBE, token, now)
    except TokenError as exc:
        if one_click:
            status = 410 if isinstance(exc, TokenExpired) else 400
            return PlainTextResponse(f"{exc}\n", status_code=status)
        return token_problem(request, exc)
    if one_click:
        await _call(flows.unsubscribe, st.ctx, link, now, "one-click unsubscribe")
        return PlainTextResponse("unsubscribed\n")
    refused = csrf_problem(request, form)
    if refused is not None:
        return refused
    await _call(flows.unsubscribe, st.ctx, link, now, "unsubscribe page")
    return page(request, "unsubscribe.html", done=True, email=link.subscriber.email)


@router.get("/assets/site.css", include_in_schema=False)
async def stylesheet(request: Request) -> Response:
    st: AppState = state_of(request)
    return Response(
        st.stylesheet,
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "public, max-age=3600"},
    )
