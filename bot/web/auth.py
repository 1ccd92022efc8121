"""Logging in to the desk: the login and logout pages, sessions, roles, CSRF.

What it does: serves ``/login`` (a form; POST checks the rate limit and the
password through `bot.accounts`) and ``POST /logout``; reads the signed session
cookie on every desk request (`require`), ends it when idle, too old, or the user
was disabled or changed password, and renews it; sends anonymous requests to
``/login`` and answers 403 to a user whose role lacks the action; issues and checks
the desk's CSRF token, which is tied to the session.
What it does not do: decide who may log in or what a role may do (`bot.accounts`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from bot import accounts
from bot.accounts import Session, SessionCodec
from bot.types import User
from bot.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    csrf_cookie_of,
    csrf_field,
    csrf_ok,
    form_limits,
    same_origin,
    set_csrf_cookie,
)
from bot.web.state import AppState, state_of
from bot.web.views import environment, render_page

log = logging.getLogger(__name__)

SESSION_COOKIE = "roundup_desk"
router = APIRouter()


class LoginNeeded(Exception):
    """Raised by `require` for a request without a live session."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """Raised by `require` when the user's role lacks the action."""

    def __init__(self, desk: Desk, action: str) -> None:
        super().__init__(action)
        self.desk = desk
        self.action = action


@dataclass(frozen=True)
class Desk:
    """The logged-in user of a desk request, their session and its CSRF token."""

    user: User
    session: Session
    csrf: str

    def can(self, action: str) -> bool:
        return accounts.can(self.user, action)


def session_csrf(secret: str, session: Session) -> str:
    return hmac.new(
        secret.encode(), b"desk-csrf:" + session.sid.encode(), hashlib.sha256
    ).hexdigest()


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path if request.method == "GET" else "/desk"


async def require(request: Request, action: str = "view") -> Desk:
    """The desk of this request; LoginNeeded or Forbidden otherwise."""
    st = state_of(request)
    session = SessionCodec(st.secret).decode(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginNeeded(_next_of(request))
    user = await run_in_threadpool(accounts.find_user, st.ctx.store, session.user)
    now = st.now()
    problem = accounts.session_problem(session, user, now, st.ctx.config.desk)
    if problem is not None or user is None:
        raise LoginNeeded(_next_of(request))
    desk = Desk(user, session.touched(now), session_csrf(st.secret, session))
    if not desk.can(action):
        raise Forbidden(desk, action)
    return desk


def check_csrf(request: Request, desk: Desk, form: FormData) -> bool:
    field = form.get(CSRF_FIELD)
    return (
        same_origin(request)
        and isinstance(field, str)
        and hmac.compare_digest(field.encode(), desk.csrf.encode())
    )


async def read_form(request: Request) -> FormData:
    return await request.form(**form_limits())


def set_session(response: Response, st: AppState, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        SessionCodec(st.secret).encode(session),
        max_age=int(st.ctx.config.desk.session_max.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=st.secure_cookies,
        path="/",
    )


def desk_page(
    request: Request,
    desk: Desk,
    template: str,
    code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """A desk page (template under ``desk/``), renewing the session cookie."""
    st = state_of(request)
    html = render_page(st.ctx.config, f"desk/{template}", desk=desk, csrf=desk.csrf, **values)
    response = HTMLResponse(html, status_code=code, headers=headers)
    set_session(response, st, desk.session)
    return response


def desk_redirect(request: Request, desk: Desk, url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    set_session(response, state_of(request), desk.session)
    return response


def _safe_next(value: object) -> str:
    if isinstance(value, str) and value.startswith("/desk") and "//" not in value:
        return value[:500]
    return "/desk"


def _login_page(request: Request, code: int = 200, **values: Any) -> HTMLResponse:
    st = state_of(request)
    cookie, new = csrf_cookie_of(request)
    values.setdefault("message", "")
    values.setdefault("username", "")
    values.setdefault("next", "/desk")
    html = render_page(
        st.ctx.config, "desk/login.html", csrf=csrf_field(st.secret, cookie), **values
    )
    response = HTMLResponse(html, status_code=code)
    if new:
        set_csrf_cookie(response, cookie, secure=st.secure_cookies)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/desk") -> Response:
    return _login_page(request, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    st = state_of(request)
    form = await read_form(request)
    name, password = form.get("username"), form.get("password")
    target = _safe_next(form.get("next"))
    if not same_origin(request) or not csrf_ok(
        st.secret, request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)
    ):
        return _login_page(request, 403, message="The form was out of date: please log in again.")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        return _login_page(request, 400, message="Give your name and your password.", next=target)
    name = name.strip()[:200]
    address = request.client.host if request.client else "unknown"
    try:
        user = await run_in_threadpool(
            accounts.authenticate,
            st.ctx.store,
            st.ctx.config.desk,
            name,
            password,
            address,
            st.now(),
        )
    except accounts.LoginRefused as exc:
        log.warning("login refused for %r from %s%s", name, address, " (limited)" * exc.limited)
        code = 429 if exc.limited else 401
        return _login_page(request, code, message=str(exc), username=name, next=target)
    response = RedirectResponse(target, status_code=303)
    set_session(response, st, Session.start(user, st.now()))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        desk = await require(request)
    except LoginNeeded:
        return RedirectResponse("/login", status_code=303)
    form = await read_form(request)
    if not check_csrf(request, desk, form):
        return forbidden_page(request, desk, "This form was out of date; nothing was done.")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/assets/desk.css", include_in_schema=False)
async def stylesheet(request: Request) -> Response:
    css = environment().get_template("desk/desk.css").render()
    return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


def forbidden_page(request: Request, desk: Desk, message: str) -> HTMLResponse:
    return desk_page(request, desk, "problem.html", 403, heading="Not allowed", message=message)


async def _login_needed(request: Request, exc: LoginNeeded) -> Response:
    response = RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _forbidden(request: Request, exc: Forbidden) -> Response:
    return forbidden_page(
        request,
        exc.desk,
        f"Your role ({exc.desk.user.role.value}) may not {exc.action} here; ask someone in ops.",
    )


def install(app: FastAPI) -> None:
    """Wire the login pages and the desk's access errors into `app`."""
    app.include_router(router)
    app.add_exception_handler(LoginNeeded, _login_needed)  # type: ignore[arg-type]
    app.add_exception_handler(Forbidden, _forbidden)  # type: ignore[arg-type]
