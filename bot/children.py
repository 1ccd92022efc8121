"""Forking, ending and reaping a helper process (the poll's fetch process, the
store process of `roundup feeds` and `roundup status`).

What it does: forks a child that talks to this process on two pipes, waits for a
child within a time limit, kills one, and says in words how one ended. What it
does not do: decide what a child runs, what the pipes carry, or when it should end.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import NoReturn


def fork_piped(serve: Callable[[int, int], NoReturn]) -> tuple[int, int, int] | None:
    """Fork a child that runs `serve(requests, replies)`, the read end of one new pipe
    and the write end of another. Here: the child's pid, the write end of its
    requests and the read end of its replies; None where forking is not safe
    (another thread runs, and a lock it holds would be copied held) or possible."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(request_w)
        os.close(reply_r)
        serve(request_r, reply_w)
    os.close(request_r)
    os.close(reply_w)
    return pid, request_w, reply_r


def reap(pid: int, seconds: float | None) -> int | None:
    """Reap child `pid` within `seconds` (None: however long); its wait status, or
    None if it still runs."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return status
        if deadline is None or (left := deadline - time.monotonic()) <= 0:
            return None
        _until_ended(pid, left)


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


def how_it_ended(status: int) -> str:
    """A wait status in words: "was killed (signal 9)", "ended (exit status 1)"."""
    if os.WIFSIGNALED(status):
        return f"was killed (signal {os.WTERMSIG(status)})"
    return f"ended (exit status {os.waitstatus_to_exitcode(status)})"


def kill(pid: int) -> None:
    """SIGKILL `pid`, if it is still there."""
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
