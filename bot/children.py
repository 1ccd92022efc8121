"""Ending and reaping a process this one forked (the poll's fetch process, the
store process of `roundup feeds` and `roundup status`).

What it does: waits for a child within a time limit, kills one, and says in words
how one ended. What it does not do: fork, or decide when a child should end.
"""

from __future__ import annotations

import os
import select
import signal
import time
from contextlib import suppress


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
