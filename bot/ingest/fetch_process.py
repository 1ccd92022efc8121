"""A one-shot poll's network half, in a process forked before the store is opened.

Why: `roundup poll` run by hand (or by cron) spends most of its time importing,
and its two largest imports need not wait for each other: the store (SQLAlchemy)
and the HTTP client (aiohttp). `FetchProcess.start()` forks a process that
imports the poll and its HTTP client on the other core while this one opens the
store and reads the feeds' states. `poll` then sends it those states; it runs
`poll_feeds` and sends back each feed's outcome as soon as that feed is done, so
this process stores them as they come, as with a poll run in-process. The
scheduler (`roundup run`) polls in its own process: it pays the imports once.

Lifetime: the process polls once, then ends. It ends early, stopping its poll, when
this process closes its end of the request pipe: `close`, an exit, a signal, a
kill. It never outlives the command. If it dies instead (killed, out of memory),
`poll` has handed over every outcome that came and raises a `FetchError`; the
feeds not reported keep their state, and the next poll reads them again.
`poll_here` is the same call run on this process's loop, as the scheduler and the
web app poll.
What it does not do: store, classify itself, or decide which feeds are polled: it
runs `poll_feeds` with what it is given, and Ctrl-C is the command's to handle.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, NoReturn

from bot.errors import FetchError

if TYPE_CHECKING:
    from bot.config import FetchConfig
    from bot.ingest.outcome import FeedOutcome
    from bot.ingest.workers import Classify
    from bot.types import FeedState

# How long `close` waits for the process to stop its poll and end before killing it.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class PollCall:
    """One poll: what `poll_feeds` is called with (its outcomes keep no items).

    `workers_ahead`: a body is sure to come (a feed was never read), so the parse
    workers' fork server starts before the first request; its imports then run on
    the other core while the poll starts, not after the first body has come.
    """

    states: tuple[FeedState, ...]
    settings: FetchConfig
    now: datetime
    intervals: Mapping[str, timedelta]
    user_agent: str
    classify: Classify | None = None
    workers_ahead: bool = False


def poll_here(call: PollCall, on_done: Callable[[FeedOutcome], None]) -> list[FeedOutcome]:
    """Run `call` on a loop of this process; `on_done` hears each feed's outcome."""
    if call.workers_ahead:
        _start_workers(call)
    return asyncio.run(_poll(call, on_done))


async def _poll(call: PollCall, on_done: Callable[[FeedOutcome], None]) -> list[FeedOutcome]:
    from bot.ingest.poll import poll_feeds  # the HTTP client: after the workers start

    return await poll_feeds(
        call.states,
        call.settings,
        call.now,
        intervals=call.intervals,
        on_done=on_done,
        user_agent=call.user_agent,
        keep_items=False,
        classify=call.classify,
    )


def _start_workers(call: PollCall) -> None:
    from bot.ingest.workers import start_fork_server

    start_fork_server(getattr(call.classify, "preload", ()), call.settings.parse_workers)


class FetchProcess:
    """The forked process, seen from the command: `poll` once, then `close`."""

    def __init__(self, pid: int, requests: IO[bytes], replies: IO[bytes]) -> None:
        self.pid = pid
        self._requests = requests
        self._replies = replies
        self._asked = False
        self._status: int | None = None

    @classmethod
    def start(cls) -> FetchProcess | None:
        """Fork the process; None where forking is not safe (another thread runs)
        or possible (no fork): the caller then polls in-process."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(request_w)
            os.close(reply_r)
            _serve(request_r, reply_w)
        os.close(request_r)
        os.close(reply_w)
        return cls(pid, os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb"))

    def poll(self, call: PollCall, on_done: Callable[[FeedOutcome], None]) -> list[FeedOutcome]:
        """`poll_here(call, on_done)`, run in the process: `on_done` is called here
        with each outcome as it comes; the outcomes, in the order of the call's
        states, are returned without their items."""
        if self._asked:
            raise RuntimeError("a fetch process polls once")
        self._asked = True
        states = call.states
        if not states:
            return []
        try:
            pickle.dump(call, self._requests, pickle.HIGHEST_PROTOCOL)
            self._requests.flush()
        except OSError:
            raise self._died(0, len(states)) from None
        outcomes: dict[str, FeedOutcome] = {}
        while True:
            try:
                kind, value = pickle.load(self._replies)
            except (EOFError, OSError, pickle.UnpicklingError):
                raise self._died(len(outcomes), len(states)) from None
            if kind == "done":
                return [outcomes[state.name] for state in states]
            if kind == "error":
                raise FetchError(f"the fetch process failed: {value}")
            on_done(value)
            outcomes[value.name] = replace(value, items=(), classifications=None)

    def _died(self, reported: int, asked: int) -> FetchError:
        status = self._wait(STOP_SECONDS)
        how = "ended" if status is None else _how(status)
        return FetchError(
            f"the fetch process {how} before the poll was done ({reported} of {asked} "
            "feeds reported and stored); the others keep their state and are polled "
            "again next time"
        )

    def close(self) -> None:
        """End the process: at once if it was never asked (it holds nothing yet),
        else by closing the pipes, which stops its poll; killed if it lingers."""
        if self._status is not None:
            return
        if not self._asked:
            _kill(self.pid)
        for pipe in (self._replies, self._requests):
            with suppress(OSError):  # a request it never read: nothing to flush
                pipe.close()
        if self._wait(STOP_SECONDS) is None:
            _kill(self.pid)
            self._wait(None)

    def _wait(self, seconds: float | None) -> int | None:
        """Reap the process within `seconds` (None: however long); its wait status,
        or None if it still runs."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while self._status is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self._status = status
            elif deadline is None or (left := deadline - time.monotonic()) <= 0:
                return None
            else:
                _until_ended(self.pid, left)
        return self._status

    def __enter__(self) -> FetchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _until_ended(pid: int, seconds: float) -> None:
    """Sleep until process `pid` ends, `seconds` at most (a few ms without pidfds,
    which Linux has from 5.3 on)."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        time.sleep(min(seconds, 0.005))
        return
    try:
        select.select([handle], [], [], seconds)
    finally:
        os.close(handle)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed (signal {os.WTERMSIG(status)})"
    return f"ended (exit status {os.waitstatus_to_exitcode(status)})"


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _serve(requests: int, replies: int) -> NoReturn:
    """The forked process: import the poll, run the one call, report, end.

    It ends with `os._exit`: what it inherited (the command's buffered output, its
    exit handlers) is the command's, not its own to flush or run.
    """
    code = 1
    outbox = os.fdopen(replies, "wb")
    try:
        # Ctrl-C reaches the whole process group: the command handles it, and its
        # closing the pipe is what stops this process.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        import bot.ingest.poll  # noqa: F401  (the HTTP client: the point of forking)

        if not gc.isenabled():
            # The command paused the collector while it starts up (`bot.cli.run`);
            # what is built by now lives as long as this process does.
            gc.freeze()
            gc.enable()
        with os.fdopen(requests, "rb") as inbox:
            try:
                call: PollCall = pickle.load(inbox)
            except EOFError:  # never asked: the command is done without a poll
                code = 0
            else:
                asyncio.run(_run(call, inbox, outbox))
                code = 0
    except BaseException as exc:  # reported to the command, which raises it
        with suppress(OSError):  # else the command is gone, or done with us
            _send(outbox, ("error", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(code)


async def _run(call: PollCall, inbox: IO[bytes], outbox: IO[bytes]) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        loop.remove_reader(inbox.fileno())
        task.cancel()

    # The command sends one call; the pipe becomes readable again only when it is
    # closed (the command is done with us, or gone): the poll stops.
    loop.add_reader(inbox.fileno(), stop)
    # multiprocessing's resource tracker, started with the parse workers, frees the
    # semaphores of a pool whose owner was killed, and warns of them on the stderr
    # it shares with the command, which has said what happened in its own one line.
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    if call.workers_ahead:
        _start_workers(call)
    await _poll(call, lambda outcome: _send(outbox, ("outcome", outcome)))
    _send(outbox, ("done", None))


def _send(outbox: IO[bytes], message: tuple[str, object]) -> None:
    """One message to the command; an OSError (it is gone) unwinds the poll."""
    pickle.dump(message, outbox, pickle.HIGHEST_PROTOCOL)
    outbox.flush()
