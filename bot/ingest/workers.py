"""Where feed bodies are parsed: a pool of processes, one per core, or a thread.

Why processes: parsing and normalising is pure-Python CPU work, and threads of one
process take turns under the GIL, so a poll of hundreds of feeds would use one
core. `ParsePool` starts its processes only when the first body needs parsing (a
poll where nothing changed starts none), through a fork server that has already
imported the parser, so each worker starts in milliseconds and shares no lock or
thread with the polling process. When a body is sure to come (a feed never read),
the poll starts that fork server before its first request (`start_fork_server`),
so the parsers' imports overlap the poll's own start (its HTTP client's import, or
in a fetch process, its first requests). A worker that
dies (killed, out of memory) costs the feeds it held one retry in a fresh pool,
then a one-line failure, never the poll; a worker whose pool's owner dies, however
it dies, ends too.
A pool given a `Classify` (the pipeline's region rules) also classifies each feed's
items where it parsed them: the workers' cores do that CPU work too, not the
polling process. Each worker receives the function once, when it starts.
What it does not do: fetch, decide anything about the feed, know what classifying
means (it calls the function it is given), or outlive the poll (`close` ends the
workers).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from bot.errors import ParseError
from bot.types import Classification, Item

if TYPE_CHECKING:
    from bot.ingest.parse import ParsedFeed

# Classifies a feed's items, one classification each; must pickle (it is sent to
# each worker once).
Classify = Callable[[tuple[Item, ...]], tuple[Classification, ...]]
# The worker's own, set when it starts (`_start_worker`).
_CLASSIFY: Classify | None = None

# The fork server imports these once, and every worker is forked with them: the
# parsers, and the modules a `Classify` names in its `preload` (what a worker needs
# to read and compile the rules it is given; this part imports none of it itself).
_PRELOAD = ["bot.ingest.parse", "bot.ingest.fastparse"]
# parse_feed logs a feed's warnings here; from a worker they are logged by the
# polling process instead, through its own logging set-up.
_PARSE_LOG = logging.getLogger("bot.ingest.parse")


def _parse(
    body: bytes,
    headers: dict[str, str],
    url: str,
    feed_name: str,
    parser: str,
    classify: Classify | None = None,
) -> ParsedFeed:
    # Imported here, where the parsing happens (a worker has it preloaded): the
    # polling process then imports the parsers only if it parses in a thread.
    from bot.ingest.parse import parse_feed

    parsed = parse_feed(body, headers, url, feed_name, parser)
    classify = classify or _CLASSIFY
    if classify is None or not parsed.items:
        return parsed
    return replace(parsed, classifications=classify(parsed.items))


def _start_worker(classify: Classify | None, owner: int) -> None:
    global _CLASSIFY  # the worker process's one classifier
    _CLASSIFY = classify
    _PARSE_LOG.setLevel(logging.ERROR)
    # The parsers' modules came from the fork server and live as long as the
    # worker: frozen, the garbage collector no longer rescans them as feeds are
    # parsed (nor touches their pages, which stay shared with the fork server).
    gc.freeze()
    _end_with(owner)


def _end_with(owner: int) -> None:
    """End this worker when process `owner` (the pool's) ends, however it ends.

    A pool whose owner is killed (kill -9, the out-of-memory killer) is never shut
    down: its workers would wait for work forever, and keep the fork server, and the
    output pipes they inherited, open. A thread waits for the owner's end instead.
    """
    try:
        handle = os.pidfd_open(owner)
    except ProcessLookupError:  # gone already
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3 or later): ask each second
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _running(owner):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="roundup-owner-watch", daemon=True).start()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: the pid was reused, the owner is gone
        return False
    return True


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def worker_count(workers: int | None) -> int:
    """The number of parse workers `workers` asks for (None: one per core); at one,
    bodies are parsed in a thread and no process is started."""
    return workers or default_workers()


def _context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Read once, when the fork server starts: every worker is then forked with the
    # parser already imported.
    context.set_forkserver_preload([*_PRELOAD, *preload])
    return context


def start_fork_server(preload: Sequence[str] = (), workers: int | None = None) -> None:
    """Start the fork server the parse workers come from, now, not at the first body.

    It imports the parsers (and `preload`) on a core of its own, while the polling
    process goes on with its own start-up (HTTP client, first requests); started at
    the first body instead, every body waits for those imports. Where there is no
    fork server (not on Linux), one runs already, or `workers` (as `ParsePool` takes
    it) is one, which parses in a thread, this does nothing. It ends with this
    process.
    """
    if worker_count(workers) <= 1:
        return
    if _context(preload).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class ParsePool:
    """Parses bodies off the event loop: in `workers` processes, or a thread if 1."""

    def __init__(
        self,
        workers: int | None = None,
        parser: str = "fastfeedparser",
        classify: Classify | None = None,
    ) -> None:
        self.workers = worker_count(workers)
        self.parser = parser
        self.classify = classify
        self._pool: ProcessPoolExecutor | None = None

    async def parse(
        self, body: bytes, headers: Mapping[str, str], url: str, feed_name: str
    ) -> ParsedFeed:
        """The parsed feed; `ParseError` when the body is unusable or the worker died."""
        job = partial(_parse, body, dict(headers), url, feed_name, self.parser)
        if self.workers <= 1:
            return await asyncio.to_thread(job, self.classify)
        for attempt in (1, 2):
            pool = self._running()
            try:
                # Submitted from a thread: the first submit starts the fork server and
                # the workers, which must not stall the downloads on the event loop.
                future = await asyncio.to_thread(pool.submit, job)
                parsed = await asyncio.wrap_future(future)
                for warning in parsed.warnings:
                    _PARSE_LOG.warning("feed %s: %s", feed_name, warning)
                return parsed
            except BrokenProcessPool:
                self._drop(pool)
                if attempt == 2:
                    raise ParseError(
                        "the parser process died while reading this feed "
                        "(out of memory, or killed); it is tried again on the next poll"
                    ) from None
        raise AssertionError("unreachable")

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=_context(getattr(self.classify, "preload", ())),
                initializer=_start_worker,
                initargs=(self.classify, os.getpid()),
            )
        return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
