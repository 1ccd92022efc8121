"""The web app: `create_app(ctx_factory)` builds the FastAPI application.

What it does: wires the public pages (`bot.web.pages`) and the SendGrid webhook
(`bot.web.hooks`) behind the guards of `bot.web.security` (security headers on
every response, bounded bodies), opens the context from `ctx_factory` at start-up
and closes it at shut-down, runs the background sender of confirmation mails
(`bot.web.confirm_sender`) in between, keeps link tokens out of uvicorn's logs,
and answers errors with a page (or JSON on the webhook), never a traceback. It
never redirects to a trailing-slash variant: such a redirect would be built from the
request's Host header, which the client chooses.
What it does not do: listen on a socket (``roundup serve`` runs it with uvicorn);
the desk (`bot.web.desk`, behind `bot.web.auth`) and the archive
(`bot.web.archive`) are wired in here but live in their own modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.context import Context
from bot.errors import ConfigError, RoundupError
from bot.send.webhook import MAX_BODY_BYTES, PUBLIC_KEY_ENV, Verifier
from bot.tokens import secret_key_from_env
from bot.web import access_log, archive, auth, health, hooks, pages
from bot.web.confirm_sender import ConfirmationSender
from bot.web.desk import router as desk_router
from bot.web.security import BodyLimit, SecurityHeaders
from bot.web.state import AppState
from bot.web.views import render_page, render_stylesheet

log = logging.getLogger(__name__)


def create_app(
    ctx_factory: Callable[[], Context],
    *,
    secret: str | None = None,
    webhook_public_key: str | None = None,
) -> FastAPI:
    """The app. `secret` defaults to ``ROUNDUP_SECRET_KEY``; the webhook key to
    ``SENDGRID_WEBHOOK_PUBLIC_KEY`` (unset: the webhook answers 503).

    Raises a `RoundupError` at once (not at the first request) when the secret or
    the key is missing or malformed.
    """
    key = secret if secret is not None else secret_key_from_env()
    pem = webhook_public_key if webhook_public_key is not None else _env_key()
    verifier = Verifier(pem) if pem else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = ctx_factory()
        try:
            if not ctx.config.newsletter.base_url:
                raise ConfigError(
                    "newsletter.base_url is not set: the web app needs it to put links "
                    "in emails (the address where readers reach this app)"
                )
            access_log.install()
            sender = ConfirmationSender(ctx, key)
            app.state.roundup = AppState(
                ctx=ctx,
                secret=key,
                verifier=verifier,
                stylesheet=render_stylesheet(ctx.config),
                secure_cookies=ctx.config.newsletter.base_url.startswith("https://"),
                sender=sender,
            )
            sender.start()
            try:
                yield
            finally:
                await sender.stop()
        finally:
            ctx.close()

    app = FastAPI(
        title="roundup",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,  # Starlette builds that redirect from the Host header
    )
    app.include_router(pages.router)
    app.include_router(hooks.router)
    auth.install(app)  # /login, /logout, and the desk's redirects and 403s
    app.include_router(desk_router)
    app.include_router(archive.router)
    app.include_router(health.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RoundupError, _roundup_error)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, limits={hooks.PATH: MAX_BODY_BYTES})
    app.add_middleware(SecurityHeaders)
    return app


def _env_key() -> str | None:
    return os.environ.get(PUBLIC_KEY_ENV, "").strip() or None


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith("/webhooks/"):
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)
    headings = {
        403: "Not allowed",
        404: "Page not found",
        405: "Not allowed",
        413: "Too much data",
    }
    heading = headings.get(exc.status_code, "Something is wrong with this request")
    return _problem_page(request, exc.status_code, heading, str(exc.detail))


async def _roundup_error(request: Request, exc: RoundupError) -> Response:
    path = access_log.redact_path(request.url.path)
    log.error("request %s %s failed: %s", request.method, path, exc)
    return _problem_page(
        request,
        503,
        "Something went wrong on our side",
        "We could not finish this just now and nothing was lost. Please try again shortly.",
    )


def _problem_page(request: Request, status: int, heading: str, message: str) -> Response:
    state = getattr(request.app.state, "roundup", None)
    if state is None:
        return JSONResponse({"error": message}, status)
    html = render_page(
        state.ctx.config, "problem.html", heading=heading, message=message, hint="", csrf=""
    )
    return HTMLResponse(html, status_code=status)
