"""The web app's background sender of queued confirmation mails.

What it does: while the app runs, calls `bot.pipeline.send_confirmations` in a
worker thread whenever a sign-up queued a mail (`wake`) and at least every
`INTERVAL` (retries of failed sends come due then), so a sign-up's answer never
waits for the mail service. An error is logged and the loop goes on; at shut-down
the send under way finishes (bounded by the transport's timeouts) before the
context closes.
What it does not do: decide what is sent or retried (`bot.send.confirmations`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from starlette.concurrency import run_in_threadpool

from bot import pipeline
from bot.context import Context

log = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=15)
STOP_TIMEOUT = 60.0  # seconds a send under way gets to finish at shut-down


class ConfirmationSender:
    def __init__(self, ctx: Context, secret: str) -> None:
        self.ctx = ctx
        self.secret = secret
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="roundup-confirmations")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_TIMEOUT)
            except TimeoutError:
                log.error("the confirmation sender did not stop in time")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await run_in_threadpool(pipeline.send_confirmations, self.ctx, self.secret)
            except Exception:
                # Any failure (a store outage, a bug) must not end the loop: the
                # mails stay queued and the next round tries again.
                log.exception("sending confirmation mails failed; trying again later")
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):  # no sign-up: a round anyway (retries)
                await asyncio.wait_for(self._wake.wait(), INTERVAL.total_seconds())
            self._wake.clear()
