"""Health endpoints: /healthz (the process is up) and /readyz (ready for work).

What it does: /healthz answers 200 whenever the process serves requests. /readyz
answers 200 when the store answers and, under `roundup run`, the scheduler holds
its lease or stands by healthily; 503 with the reason otherwise. Both are JSON.
What it does not do: check the feeds or SendGrid (`roundup status` shows those).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    body: dict[str, Any] = {"status": "ready", "store": "ok"}
    state = getattr(request.app.state, "roundup", None)
    try:
        if state is None:
            raise RuntimeError("the app has not started")
        state.ctx.store.lease_state("scheduler")  # one small read
    except Exception as exc:
        return JSONResponse({"status": "not ready", "store": str(exc)}, 503)
    readiness: Callable[[], tuple[bool, str]] | None = getattr(
        request.app.state, "scheduler_ready", None
    )
    if readiness is not None:
        ok, role = readiness()
        body["scheduler"] = role
        if not ok:
            body["status"] = "not ready"
            return JSONResponse(body, 503)
    return JSONResponse(body)
