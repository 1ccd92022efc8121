"""The ops send page, ``/desk/editions/KEY/send``: start, watch, resume, retry.

What it does: states how many active subscribers a send reaches, starts the send
(`bot.pipeline.send`) in a background thread on a POST, and shows its progress and
the ledger's batches with their states; a page that refreshes itself while the
send runs (no script). Resume and retry-ambiguous start the send again in those
modes; the ledger makes sure nobody gets the edition twice.
What it does not do: decide who gets what (`bot.send`), or let an editor in (403).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot import overview, pipeline
from bot.context import Context
from bot.errors import RoundupError
from bot.send import make_transport
from bot.web.auth import check_csrf, desk_page, desk_redirect, forbidden_page, read_form, require
from bot.web.desk.common import call, edition_view
from bot.web.state import state_of

log = logging.getLogger(__name__)
router = APIRouter()
MODES = {"send": "send", "resume": "resume", "retry": "retry"}  # form action -> permission


@dataclass
class Runs:
    """The sends this app started: one thread per edition at a time, last error kept."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[str, threading.Thread] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def busy(self, key: str) -> bool:
        with self.lock:
            thread = self.running.get(key)
            return thread is not None and thread.is_alive()

    def start(self, ctx: Context, key: str, secret: str, *, resume: bool, retry: bool) -> bool:
        with self.lock:
            thread = self.running.get(key)
            if thread is not None and thread.is_alive():
                return False
            self.errors.pop(key, None)
            thread = threading.Thread(
                target=self._run, args=(ctx, key, secret, resume, retry), daemon=True
            )
            self.running[key] = thread
            thread.start()
            return True

    def _run(self, ctx: Context, key: str, secret: str, resume: bool, retry: bool) -> None:
        try:
            transport = make_transport(ctx)
            try:
                report = pipeline.send(
                    ctx,
                    key,
                    transport=transport,
                    resume=resume,
                    retry_ambiguous=retry,
                    secret=secret,
                )
            finally:
                transport.close()
            if report.errors:
                self.errors[key] = "; ".join(report.errors)[:2000]
        except RoundupError as exc:
            log.error("send of %s from the desk failed: %s", key, exc)
            self.errors[key] = str(exc)
        except Exception as exc:  # a thread must record, not vanish
            log.exception("send of %s from the desk crashed", key)
            self.errors[key] = f"the send stopped on an unexpected error: {exc}"


def runs_of(request: Request) -> Runs:
    found = getattr(request.app.state, "desk_sends", None)
    if found is None:
        found = request.app.state.desk_sends = Runs()
    assert isinstance(found, Runs)
    return found


def _page_data(ctx: Context, key: str) -> dict[str, Any]:
    view = overview.edition_view(ctx, key)
    return {
        "e": view.edition,
        "view": view,
        "recipients": overview.recipients(ctx),
        "counts": overview.send_counts(ctx, key),
        "batches": overview.batches(ctx, key),
    }


@router.get("/desk/editions/{key}/send", response_class=HTMLResponse)
async def send_page(request: Request, key: str) -> Response:
    desk = await require(request, "send")
    st = state_of(request)
    await call(edition_view, st, key)
    data = await call(_page_data, st.ctx, key)
    runs = runs_of(request)
    running = runs.busy(key)
    return desk_page(
        request,
        desk,
        "send.html",
        running=running,
        error=runs.errors.get(key, ""),
        refresh=running,
        **data,
    )


@router.post("/desk/editions/{key}/send", response_class=HTMLResponse)
async def start_send(request: Request, key: str) -> Response:
    form = await read_form(request)
    action = form.get("action")
    mode = MODES.get(action if isinstance(action, str) else "", "send")
    desk = await require(request, mode)
    if not check_csrf(request, desk, form):
        return forbidden_page(request, desk, "The form was out of date, so nothing was sent.")
    st = state_of(request)
    started = runs_of(request).start(
        st.ctx, key, st.secret, resume=mode != "send", retry=mode == "retry"
    )
    log.info("desk: %s started %s of %s (%s)", desk.user.name, mode, key, started)
    return desk_redirect(request, desk, f"/desk/editions/{key}/send")
