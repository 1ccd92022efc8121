"""``POST /webhooks/sendgrid``: SendGrid's signed event webhook, over HTTP.

What it does: reads the body (capped by the app's body limit), hands it and the
signature headers to `bot.send.webhook` to verify, then applies the events in a
worker thread. Unsigned, badly signed or stale posts get 403 and change nothing;
a malformed signed body gets 400; with no verification key configured the
endpoint answers 503 and does nothing (an unverifiable post is never applied).
What it does not do: interpret events (`bot.send.webhook` does).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.send.webhook import (
    PUBLIC_KEY_ENV,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    apply_events,
    parse_events,
)
from bot.web.state import state_of

log = logging.getLogger(__name__)
PATH = "/webhooks/sendgrid"

router = APIRouter()


@router.post(PATH)
async def sendgrid_events(request: Request) -> JSONResponse:
    st = state_of(request)
    if st.verifier is None:
        log.warning("webhook post refused: %s is not set", PUBLIC_KEY_ENV)
        return JSONResponse({"error": "webhook verification is not configured"}, 503)
    body = await request.body()
    now = st.now()
    try:
        st.verifier.verify(
            body,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            now,
        )
    except WebhookRejected as exc:
        log.warning("webhook post refused: %s", exc)
        return JSONResponse({"error": "signature verification failed"}, 403)
    try:
        events = parse_events(body)
    except WebhookRejected as exc:
        return JSONResponse({"error": str(exc)}, 400)
    result = await run_in_threadpool(apply_events, st.ctx.store, events, now)
    return JSONResponse(
        {"applied": result.applied, "replayed": result.replayed, "ignored": result.ignored}
    )
