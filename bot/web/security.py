"""The web app's guards: security headers, bounded request bodies, CSRF tokens.

What it does: adds a strict Content-Security-Policy (no script at all, styles only
from our own stylesheet), X-Frame-Options DENY, nosniff, Referrer-Policy
no-referrer (token URLs must never leak in a Referer) and no-store caching to every
response; refuses request bodies past a per-path cap, by Content-Length up front and
by counting the bytes actually received; and issues and checks double-submit CSRF
tokens (a random cookie, and a form field that is its HMAC under the app's secret).
What it does not do: authenticate anyone: the public pages are authorised by the
signed token in their URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
CSRF_COOKIE = "roundup_csrf"
CSRF_FIELD = "csrf"
DEFAULT_BODY_LIMIT = 16_384  # a sign-up form is a few hundred bytes


class SecurityHeaders:
    """ASGI middleware: the headers above on every response; no-store unless set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    # A page that set its own (the desk's previews) keeps it.
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """ASGI middleware: 413 for a body over the cap of its path (`limits`, else default)."""

    def __init__(
        self, app: ASGIApp, limits: Mapping[str, int], default: int = DEFAULT_BODY_LIMIT
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the endpoint's read: the app's handler answers 413.
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> Response:
    return PlainTextResponse(f"request body larger than {limit} bytes\n", status_code=413)


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_field(secret: str, cookie: str) -> str:
    """The form value that proves the form was served to the holder of `cookie`."""
    return hmac.new(secret.encode(), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, cookie: str | None, field: object) -> bool:
    if not cookie or not isinstance(field, str) or len(field) > 128:
        return False
    return hmac.compare_digest(csrf_field(secret, cookie), field)


def csrf_cookie_of(request: Request) -> tuple[str, bool]:
    """(cookie value, whether it is new and must be set on the response)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, False
    return new_csrf_cookie(), True


def set_csrf_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        CSRF_COOKIE, value, httponly=True, samesite="strict", secure=secure, path="/"
    )


def same_origin(request: Request) -> bool:
    """False when the browser says the post came from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    # "null": browsers send it under Referrer-Policy no-referrer (ours); the CSRF
    # token and the SameSite=Strict cookie still have to match.
    if origin is None or origin == "null":
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def form_limits() -> dict[str, Any]:
    """Bounds for `Request.form`: no files, few fields, short values."""
    return {"max_files": 0, "max_fields": 40, "max_part_size": 4096}
