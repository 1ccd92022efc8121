"""A one-shot poll's network half, in a process forked as the command starts.

Why: `roundup poll` run by hand (or by cron) spends most of its time importing,
and its two largest imports need not wait for each other: the store (SQLAlchemy)
and the HTTP client (aiohttp). `FetchProcess.start()` forks a process that
imports the poll and its HTTP client on the other core while this one reads its
config, opens the store and reads the feeds' states; `roundup poll` forks it
first thing (`fork_early`, from `bot.__main__`), before its command line's
imports. `poll` then sends it those states; it runs `poll_feeds` and sends back
each feed's outcome as soon as that feed is done, so this process stores them as
they come, as with a poll run in-process. The scheduler (`roundup run`) polls in
its own process: it pays the imports once.

Ahead of the store: `poll_ahead` gives the process a call guessed before the store
is open (`pipeline.poll_ahead`, from a peek at a SQLite file), and it starts
fetching at once. `poll` then sends only a word: "go" when its own call is the
same (the outcomes already on their way are the poll's), "drop" when it differs
(the process stops, says "dropped", and runs the call it is sent next). Either way
the outcomes stored are those of the poll's own call.

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
import functools
import gc
import importlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, NoReturn

from bot.children import fork_piped, how_it_ended, kill, reap
from bot.errors import FetchError

if TYPE_CHECKING:
    from bot.ingest.outcome import FeedOutcome
    from bot.ingest.settings import FetchSettings
    from bot.ingest.workers import Classify
    from bot.types import FeedState

# How long `close` waits for the process to stop its poll and end before killing it.
STOP_SECONDS = 5.0
# The size asked for each pipe. A call for 300 feeds is 160 KB, and the command
# should not wait for the process to read it; a poll started ahead of the store
# writes before the command reads, and 300 unchanged feeds' outcomes fill Linux's
# default 64 KB. A writer that fills a pipe waits (nothing is lost) for the reader.
PIPE_BYTES = 1 << 20
_GO = ("go",)
_DROP = ("drop",)


@dataclass(frozen=True)
class PollCall:
    """One poll: what `poll_feeds` is called with (its outcomes keep no items).

    `workers_ahead`: a body is sure to come (a feed was never read), so the parse
    workers' fork server starts before the first request; its imports then run on
    the other core while the poll starts, not after the first body has come.
    """

    states: tuple[FeedState, ...]
    settings: FetchSettings
    now: datetime
    intervals: Mapping[str, timedelta]
    user_agent: str
    classify: Classify | None = None
    workers_ahead: bool = False


# The process forked as the command started (`fork_early`), until the command takes it.
_early: FetchProcess | None = None


def fork_early(preload: Sequence[str] = ()) -> None:
    """Fork the fetch process now, at the very start of `roundup poll`, before the
    command line's own imports: `take_early` hands it to the command."""
    global _early
    if _early is None:
        _early = FetchProcess.start(preload)


def take_early() -> FetchProcess | None:
    """The process `fork_early` forked (once), or None."""
    global _early
    fetcher, _early = _early, None
    return fetcher


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
        self._ahead: PollCall | None = None
        self._status: int | None = None

    @classmethod
    def start(cls, preload: Sequence[str] = ()) -> FetchProcess | None:
        """Fork the process; None where forking is not safe (another thread runs)
        or possible (no fork): the caller then polls in-process. The process imports
        the poll, then the modules named in `preload` (what its call will need to be
        read: the config's models, the classifier's class), while it waits for it."""
        forked = fork_piped(functools.partial(_serve, preload=preload))
        if forked is None:
            return None
        pid, request_w, reply_r = forked
        _widen(request_w)
        _widen(reply_r)
        return cls(pid, os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb"))

    def poll_ahead(self, call: PollCall) -> None:
        """Start `call`, a guess at the call `poll` will be given: the fetching starts
        now, and `poll` keeps what it fetched if the guess was right (see the module
        doc). Once, before `poll`; a call with no feeds is not started."""
        if self._asked or self._ahead is not None or not call.states:
            return
        with suppress(OSError):  # the process is gone: `poll` says so
            _put(self._requests, ("ahead", call))
            self._ahead = call

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
            if self._ahead is None:
                _put(self._requests, ("poll", call))
            elif self._ahead == call:
                _put(self._requests, _GO)
            else:
                _put(self._requests, _DROP)
                while self._reply(0, len(states))[0] != "dropped":
                    pass  # what the guess fetched is not this poll's
                _put(self._requests, ("poll", call))
        except OSError:
            raise self._died(0, len(states)) from None
        outcomes: dict[str, FeedOutcome] = {}
        while True:
            kind, value = self._reply(len(outcomes), len(states))
            if kind == "done":
                return [outcomes[state.name] for state in states]
            on_done(value)
            outcomes[value.name] = replace(value, items=(), classifications=None)

    def _reply(self, reported: int, asked: int) -> tuple[str, Any]:
        try:
            kind, value = pickle.load(self._replies)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._died(reported, asked) from None
        if kind == "error":
            raise FetchError(f"the fetch process failed: {value}")
        return kind, value

    def _died(self, reported: int, asked: int) -> FetchError:
        status = self._wait(STOP_SECONDS)
        how = "ended" if status is None else how_it_ended(status)
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
            kill(self.pid)
        for pipe in (self._replies, self._requests):
            with suppress(OSError):  # a request it never read: nothing to flush
                pipe.close()
        if self._wait(STOP_SECONDS) is None:
            kill(self.pid)
            self._wait(None)

    def _wait(self, seconds: float | None) -> int | None:
        """Reap the process within `seconds` (None: however long); its wait status,
        or None if it still runs."""
        if self._status is None:
            self._status = reap(self.pid, seconds)
        return self._status

    def __enter__(self) -> FetchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(requests: int, replies: int, preload: Sequence[str]) -> NoReturn:
    """The forked process: import the poll, run the call it is given, report, end.

    It ends with `os._exit`: what it inherited (the command's buffered output, its
    exit handlers) is the command's, not its own to flush or run.
    """
    code = 1
    outbox = os.fdopen(replies, "wb")
    try:
        # Ctrl-C reaches the whole process group: the command handles it, and its
        # closing the pipe is what stops this process.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # multiprocessing's resource tracker, started with the parse workers, frees
        # the semaphores of a pool whose owner was killed, and warns of them on the
        # stderr it shares with the command, which has said what happened in its
        # own one line.
        sys.warnoptions.append("ignore:resource_tracker:UserWarning")
        import bot.ingest.poll  # noqa: F401  (the HTTP client: the point of forking)

        for name in preload:
            importlib.import_module(name)

        if not gc.isenabled():
            # The command paused the collector while it starts up (`bot.__main__.run`);
            # what is built by now lives as long as this process does.
            gc.freeze()
            gc.enable()
        message = _get(requests)  # None: never asked, the command is done without a poll
        while message is not None:
            kind, call = message
            if not isinstance(call, PollCall):
                raise TypeError(f"expected a poll call, got {type(call).__name__}")
            message = asyncio.run(_run(call, kind == "ahead", requests, outbox))
        code = 0
    except BaseException as exc:  # reported to the command, which raises it
        with suppress(OSError):  # else the command is gone, or done with us
            _send(outbox, ("error", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(code)


async def _run(
    call: PollCall, ahead: bool, requests: int, outbox: IO[bytes]
) -> tuple[object, ...] | None:
    """Poll as `call` says, sending each outcome as it comes; the next call to run
    when the command drops this one, else None (done, or stopped)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    # A call sent ahead of the store is the poll's once the command says "go".
    verdict: list[tuple[object, ...] | None] = [] if ahead else [_GO]

    def heard() -> None:
        # After a call, the command sends at most one word; the pipe becomes
        # readable again only when it is closed (the command is done with us, or
        # gone): the poll stops.
        message = _get(requests)
        if message == _GO and not verdict:
            verdict.append(message)
            return
        loop.remove_reader(requests)
        verdict.append(message if message == _DROP else None)
        task.cancel()

    loop.add_reader(requests, heard)
    if call.workers_ahead:
        _start_workers(call)
    try:
        await _poll(call, lambda outcome: _send(outbox, ("outcome", outcome)))
    except asyncio.CancelledError:
        if verdict != [_DROP]:
            raise
        return _dropped(requests, outbox)
    loop.remove_reader(requests)
    _send(outbox, ("done", None))
    if not verdict:  # done before the command knew whether it wanted this call
        verdict.append(_get(requests))
    return _dropped(requests, outbox) if verdict == [_DROP] else None


def _dropped(requests: int, outbox: IO[bytes]) -> tuple[object, ...] | None:
    """Tell the command the dropped call has stopped; the call it sends instead."""
    _send(outbox, ("dropped", None))
    return _get(requests)


def _send(outbox: IO[bytes], message: tuple[str, object]) -> None:
    """One message to the command; an OSError (it is gone) unwinds the poll."""
    pickle.dump(message, outbox, pickle.HIGHEST_PROTOCOL)
    outbox.flush()


_HEADER = struct.Struct("!I")


def _put(requests: IO[bytes], message: tuple[object, ...]) -> None:
    """One message to the fetch process, framed by its length: the process reads
    exactly one message each time its pipe is readable, never part of the next."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    requests.write(_HEADER.pack(len(data)) + data)
    requests.flush()


def _get(requests: int) -> tuple[object, ...] | None:
    """The next message from the command (blocking); None when it closed the pipe."""
    header = _read_exactly(requests, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(requests, _HEADER.unpack(header)[0])
    if data is None:
        return None
    message = pickle.loads(data)
    if not isinstance(message, tuple):
        raise TypeError("a message from the command is a tuple")
    return message


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _widen(pipe: int) -> None:
    """Ask for `PIPE_BYTES` of buffer in `pipe` (Linux); else it keeps its own."""
    import fcntl  # POSIX only, as fork is

    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        with suppress(OSError):  # above the system's limit: the default size
            fcntl.fcntl(pipe, setting, PIPE_BYTES)
