"""Leases that know their holder: who holds a job, whether that process still lives.

What it does: names this process as a `Holder` (host, pid, process start time and
a nonce, encoded in the store's ``holder`` text); decides, as a pure function of
`now` and what the store holds, whether a claimant may take a lease (`decide`);
claims a lease in the store, taking it at once from a holder on this host whose
process is gone, or from any holder when the operator breaks the lease (`claim`);
and renews a held lease in the background while a long step runs (`LeaseKeeper`).
Sends and the scheduler share this code.
What it does not do: wait for a lease or retry a refused claim (callers decide),
or say what the job is; the lease's name does that (``send:2026-W48``,
``scheduler``).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Protocol

from bot.clock import Clock, ensure_utc
from bot.types import LeaseState

UNKNOWN_START = "-"


@dataclass(frozen=True)
class Holder:
    """One process that may hold leases: where it runs and which process it is.

    `started` is the process's start time as the kernel counts it (with the boot it
    belongs to), so a pid reused by a later process is not mistaken for the holder.
    """

    host: str
    pid: int
    started: str = UNKNOWN_START
    nonce: str = ""

    def encode(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}:{self.nonce}"

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder written by `encode`; None for text in any other form."""
        parts = text.rsplit(":", 3)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[0]:
            return None
        return cls(host=parts[0], pid=int(parts[1]), started=parts[2], nonce=parts[3])

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}"


def describe_holder(text: str) -> str:
    """A lease holder as an operator reads it, whatever form the text takes."""
    holder = Holder.parse(text)
    return holder.describe() if holder else text


@cache
def this_host() -> str:
    return socket.gethostname()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return ""


def process_start(pid: int) -> str:
    """The start time of process `pid` (boot id and clock ticks), or UNKNOWN_START.

    Linux gives it in /proc/PID/stat (field 22); elsewhere it is unknown and only
    the pid is checked.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return UNKNOWN_START
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return UNKNOWN_START
    return f"{_boot_id()}.{fields[19]}"


def this_process() -> Holder:
    """This process as a lease holder; each call gets a fresh nonce."""
    pid = os.getpid()
    return Holder(this_host(), pid, process_start(pid), uuid.uuid4().hex[:8])


def is_alive(holder: Holder) -> bool | None:
    """Whether the holder's process runs; None when it runs on another host."""
    if holder.host != this_host():
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    if holder.started == UNKNOWN_START:
        return True
    now_started = process_start(holder.pid)
    return now_started in (UNKNOWN_START, holder.started)


class Verdict(Enum):
    FREE = "free"  # nobody holds it, or the lease lapsed
    OURS = "ours"  # we hold it already: an extension
    HOLDER_GONE = "holder-gone"  # held by a process on this host that has ended
    BREAK = "break"  # the operator breaks a live or remote holder's lease
    WAIT = "wait"  # held by a live process, or one elsewhere, until it lapses


def decide(
    lease: LeaseState | None,
    me: Holder,
    now: datetime,
    *,
    holder_alive: bool | None,
    break_lease: bool = False,
) -> Verdict:
    """May `me` take `lease` at `now`? `holder_alive` is `is_alive` of its holder.

    A holder on this host whose process is gone is replaced at once; one elsewhere
    (`holder_alive` None) or still running is waited for until its lease lapses,
    unless the operator breaks the lease.
    """
    if lease is None or ensure_utc(lease.expires_at) <= ensure_utc(now):
        return Verdict.FREE
    if lease.holder == me.encode():
        return Verdict.OURS
    if holder_alive is False:
        return Verdict.HOLDER_GONE
    return Verdict.BREAK if break_lease else Verdict.WAIT


class LeaseStore(Protocol):
    def acquire_lease(
        self,
        name: str,
        holder: str,
        ttl: timedelta,
        now: datetime,
        *,
        take_from: str | None = None,
    ) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def lease_state(self, name: str) -> LeaseState | None: ...


@dataclass(frozen=True)
class Claim:
    """The outcome of `claim`: taken or not, and from whom."""

    taken: bool
    verdict: Verdict
    previous: LeaseState | None  # the lease as it stood before the claim

    @property
    def previous_holder(self) -> str:
        return describe_holder(self.previous.holder) if self.previous else "nobody"

    def taken_over_message(self) -> str | None:
        """What to tell the operator when the claim replaced another holder."""
        if not self.taken or self.previous is None:
            return None
        if self.verdict is Verdict.HOLDER_GONE:
            return f"the {_job(self.previous.name)} by {self.previous_holder} has ended"
        if self.verdict is Verdict.BREAK:
            return f"broke the lease of {self.previous_holder} on {_job(self.previous.name)}"
        return None


def _job(name: str) -> str:
    kind, _, what = name.partition(":")
    return f"{kind} of {what}" if what else kind


def claim(
    store: LeaseStore,
    name: str,
    me: Holder,
    ttl: timedelta,
    now: datetime,
    *,
    break_lease: bool = False,
) -> Claim:
    """Take lease `name` for `me` if `decide` allows it; atomic against other claimants.

    A takeover names the holder it replaces, so two claimants racing to replace the
    same dead holder cannot both win.
    """
    current = store.lease_state(name)
    holder = Holder.parse(current.holder) if current else None
    alive = is_alive(holder) if holder else None
    verdict = decide(current, me, now, holder_alive=alive, break_lease=break_lease)
    if verdict is Verdict.WAIT:
        return Claim(False, verdict, current)
    takeover = current is not None and verdict in (Verdict.HOLDER_GONE, Verdict.BREAK)
    take_from = current.holder if current is not None and takeover else None
    taken = store.acquire_lease(name, me.encode(), ttl, now, take_from=take_from)
    return Claim(taken, verdict if taken else Verdict.WAIT, current)


class LeaseKeeper:
    """Renews a held lease every third of its ttl on a background thread.

    `lost` is set when a renewal finds the lease taken by another holder (an
    operator broke it), so the work can stop before its next step. `stop` ends the
    renewals; `release` also gives the lease up.
    """

    def __init__(
        self, store: LeaseStore, name: str, me: Holder, ttl: timedelta, clock: Clock
    ) -> None:
        self.store, self.name, self.me, self.ttl, self.clock = store, name, me, ttl, clock
        self.lost = threading.Event()
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {name}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def renew(self) -> bool:
        """Renew now; False (and `lost` set) when another holder has the lease."""
        try:
            held = self.store.acquire_lease(self.name, self.me.encode(), self.ttl, self.clock.now())
        except Exception as exc:  # a store hiccup: keep trying until the lease lapses
            self.error = exc
            return not self.lost.is_set()
        if not held:
            self.lost.set()
        return held

    def _run(self) -> None:
        interval = max(self.ttl.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            if not self.renew():
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def release(self) -> None:
        self.stop()
        if not self.lost.is_set():
            self.store.release_lease(self.name, self.me.encode())

    def __enter__(self) -> LeaseKeeper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.release()
