"""Leases that know their holder: the decision table, liveness, claims and renewal.

Liveness is checked against real processes: a child that takes a lease and is
killed with SIGKILL, and this process with a start time that is not its own (a
reused pid). The claims run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FixedClock
from bot.lease import (
    UNKNOWN_START,
    Holder,
    LeaseKeeper,
    Verdict,
    claim,
    decide,
    describe_holder,
    is_alive,
    process_start,
    this_host,
    this_process,
)
from bot.store import Store, open_store
from bot.types import LeaseState

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
ME = Holder("box-a", 100, "b.1", "aaaa")
OTHER = Holder("box-a", 200, "b.2", "bbbb")


def _lease(holder: Holder | str, expires_in: int) -> LeaseState:
    text = holder if isinstance(holder, str) else holder.encode()
    return LeaseState("send:2026-W48", text, NOW - TTL, NOW + timedelta(seconds=expires_in))


@pytest.mark.parametrize(
    ("lease", "alive", "break_lease", "verdict"),
    [
        (None, None, False, Verdict.FREE),
        (_lease(OTHER, 0), True, False, Verdict.FREE),  # lapsed exactly now
        (_lease(OTHER, -5), True, False, Verdict.FREE),
        (_lease(ME, 30), True, False, Verdict.OURS),
        (_lease(OTHER, 30), True, False, Verdict.WAIT),  # alive on this host
        (_lease(OTHER, 30), False, False, Verdict.HOLDER_GONE),
        (_lease(OTHER, 30), None, False, Verdict.WAIT),  # on another host
        (_lease(OTHER, 30), None, True, Verdict.BREAK),
        (_lease(OTHER, 30), True, True, Verdict.BREAK),
        (_lease("ops-box pid 4242", 30), None, False, Verdict.WAIT),  # an old-form holder
    ],
)
def test_decide_table(
    lease: LeaseState | None, alive: bool | None, break_lease: bool, verdict: Verdict
) -> None:
    assert decide(lease, ME, NOW, holder_alive=alive, break_lease=break_lease) is verdict


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("box-a:100:b.1:aaaa", Holder("box-a", 100, "b.1", "aaaa")),
        ("box-a:100:-:", Holder("box-a", 100, UNKNOWN_START, "")),
        ("ops-box pid 4242", None),
        ("box:notapid:x:y", None),
        (":1:x:y", None),
    ],
)
def test_holder_encoding(text: str, parsed: Holder | None) -> None:
    assert Holder.parse(text) == parsed
    if parsed:
        assert Holder.parse(parsed.encode()) == parsed
        assert describe_holder(text) == f"pid {parsed.pid} on host {parsed.host}"
    else:
        assert describe_holder(text) == text


def test_this_process_is_alive_and_a_reused_pid_is_not() -> None:
    me = this_process()
    assert me.host == this_host() and me.pid == os.getpid()
    assert me.started != UNKNOWN_START  # Linux: /proc gives the start time
    assert is_alive(me) is True
    assert is_alive(Holder(me.host, me.pid, me.started + "0", "x")) is False
    assert is_alive(Holder("elsewhere.example", me.pid, me.started, "x")) is None


def test_a_killed_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start(child.pid)
        holder = Holder(this_host(), child.pid, started, "c")
        assert is_alive(holder) is True
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert is_alive(holder) is False


_HOLD = """
import sys
from datetime import datetime, UTC, timedelta
from bot.lease import claim, this_process
from bot.store import open_store
store = open_store(sys.argv[1])
got = claim(store, "send:2026-W48", this_process(), timedelta(seconds=60), datetime.now(UTC))
print("held" if got.taken else "refused", flush=True)
sys.stdin.read()
"""


def test_a_holder_killed_with_sigkill_is_replaced_at_once(database_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        store = open_store(database_url)
        now = datetime.now(UTC)
        live = claim(store, "send:2026-W48", this_process(), TTL, now)
        assert (live.taken, live.verdict) == (False, Verdict.WAIT)
        assert live.previous_holder == f"pid {child.pid} on host {this_host()}"
        child.send_signal(signal.SIGKILL)
        child.wait()
        got = claim(store, "send:2026-W48", this_process(), TTL, now)
        assert (got.taken, got.verdict) == (True, Verdict.HOLDER_GONE)
        assert got.taken_over_message() == (
            f"the send of 2026-W48 by pid {child.pid} on host {this_host()} has ended"
        )
        store.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_holder_on_another_host_is_waited_for_then_broken(store: Store) -> None:
    remote = Holder("far-away", 4242, "x.1", "r")
    assert store.acquire_lease("scheduler", remote.encode(), TTL, NOW)
    me = this_process()
    waited = claim(store, "scheduler", me, TTL, NOW + timedelta(seconds=59))
    assert (waited.taken, waited.verdict) == (False, Verdict.WAIT)
    assert waited.previous is not None and waited.previous.expires_at == NOW + TTL
    broken = claim(store, "scheduler", me, TTL, NOW + timedelta(seconds=59), break_lease=True)
    assert (broken.taken, broken.verdict) == (True, Verdict.BREAK)
    assert broken.taken_over_message() == (
        "broke the lease of pid 4242 on host far-away on scheduler"
    )
    state = store.lease_state("scheduler")
    assert state is not None and state.holder == me.encode()
    # Once lapsed, anybody takes it with no takeover to report.
    later = claim(store, "scheduler", remote, TTL, NOW + timedelta(seconds=59) + TTL)
    assert (later.taken, later.verdict, later.taken_over_message()) == (True, Verdict.FREE, None)


def test_take_from_is_atomic(store: Store) -> None:
    dead = Holder(this_host(), 999_999, "gone", "d").encode()
    assert store.acquire_lease("send:k", dead, TTL, NOW)
    # Two claimants replace the same dead holder: the second finds it already taken.
    assert store.acquire_lease("send:k", "a:1:-:a", TTL, NOW, take_from=dead)
    assert not store.acquire_lease("send:k", "b:2:-:b", TTL, NOW, take_from=dead)
    assert store.lease_holder("send:k", NOW) == "a:1:-:a"


def test_keeper_renews_while_work_runs_and_releases(store: Store) -> None:
    clock = FixedClock(NOW)
    me = this_process()
    ttl = timedelta(seconds=0.3)
    assert store.acquire_lease("send:k", me.encode(), ttl, clock.now())
    with LeaseKeeper(store, "send:k", me, ttl, clock) as keeper:
        clock.advance(timedelta(seconds=10))  # far past the first expiry
        deadline = time.monotonic() + 5
        while store.lease_holder("send:k", clock.now()) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.lease_holder("send:k", clock.now()) == me.encode()
        assert not keeper.lost.is_set()
    assert store.lease_state("send:k") is None


def test_keeper_notices_a_broken_lease(store: Store) -> None:
    clock = FixedClock(NOW)
    me = this_process()
    assert store.acquire_lease("send:k", me.encode(), TTL, clock.now())
    keeper = LeaseKeeper(store, "send:k", me, TTL, clock)
    assert store.acquire_lease("send:k", "ops:1:-:o", TTL, NOW, take_from=me.encode())
    assert keeper.renew() is False and keeper.lost.is_set()
    keeper.release()  # lost: leaves the new holder's lease alone
    assert store.lease_holder("send:k", NOW) == "ops:1:-:o"
