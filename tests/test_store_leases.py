"""Leases in the store: grant, refuse, expire, extend, release, and real races.

The races run on SQLite and PostgreSQL: several OS processes (and, separately,
threads) ask for the same leases at the same moment; exactly one may win each.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.store import Store, open_store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
RACE_ROUNDS = 15


@pytest.mark.parametrize(
    ("steps", "holder_at_end"),
    [
        # (holder, seconds after NOW, expected result of acquire_lease)
        ([("a", 0, True)], "a"),
        ([("a", 0, True), ("b", 10, False)], "a"),
        ([("a", 0, True), ("b", 299, False)], "a"),
        ([("a", 0, True), ("b", 300, True)], "b"),  # expired exactly at now + ttl
        ([("a", 0, True), ("a", 200, True), ("b", 400, False)], "a"),  # extended to 500
        ([("a", 0, True), ("a", 200, True), ("b", 500, True)], "b"),
        ([("a", 0, True), ("b", 301, True), ("a", 302, False)], "b"),
    ],
)
def test_acquire_lease_table(
    store: Store, steps: list[tuple[str, int, bool]], holder_at_end: str
) -> None:
    for holder, seconds, expected in steps:
        at = NOW + timedelta(seconds=seconds)
        assert store.acquire_lease("poll", holder, TTL, at) is expected, (holder, seconds)
    last = NOW + timedelta(seconds=steps[-1][1])
    assert store.lease_holder("poll", last) == holder_at_end


def test_lease_holder_and_release(store: Store) -> None:
    assert store.lease_holder("send", NOW) is None
    assert store.acquire_lease("send", "proc-1", TTL, NOW)
    assert store.acquire_lease("poll", "proc-2", TTL, NOW)  # names are independent
    assert store.lease_holder("send", NOW + TTL - timedelta(seconds=1)) == "proc-1"
    assert store.lease_holder("send", NOW + TTL) is None  # expired
    store.release_lease("send", "proc-2")  # not the holder: nothing happens
    assert store.lease_holder("send", NOW) == "proc-1"
    store.release_lease("send", "proc-1")
    assert store.lease_holder("send", NOW) is None
    assert store.acquire_lease("send", "proc-2", TTL, NOW)
    assert store.lease_holder("poll", NOW) == "proc-2"


def test_acquire_lease_rejects_a_non_positive_ttl(store: Store) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.acquire_lease("send", "a", timedelta(0), NOW)


def _race_in_process(url: str, worker: str, barrier: Any, results: Any) -> None:
    """One contender (in its own OS process): try every round's lease at the same moment."""
    store = open_store(url)
    try:
        for round_no in range(RACE_ROUNDS):
            barrier.wait(timeout=60)
            won = store.acquire_lease(f"job-{round_no}", worker, TTL, NOW)
            results.put((round_no, worker, won))
    finally:
        store.close()


def _winners(outcomes: list[tuple[int, str, bool]]) -> dict[int, list[str]]:
    winners: dict[int, list[str]] = {n: [] for n in range(RACE_ROUNDS)}
    for round_no, worker, won in outcomes:
        if won:
            winners[round_no].append(worker)
    return winners


def _check_one_winner_each(store: Store, outcomes: list[tuple[int, str, bool]], n: int) -> None:
    assert len(outcomes) == RACE_ROUNDS * n
    for round_no, winners in _winners(outcomes).items():
        assert len(winners) == 1, (round_no, winners)
        assert store.lease_holder(f"job-{round_no}", NOW) == winners[0]


def test_lease_race_between_processes(store: Store, database_url: str) -> None:
    contenders = 3
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited pool
    barrier = ctx.Barrier(contenders)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_in_process, args=(database_url, f"proc-{i}", barrier, results))
        for i in range(contenders)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=90) for _ in range(RACE_ROUNDS * contenders)]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    _check_one_winner_each(store, outcomes, contenders)


def test_lease_race_between_threads(store: Store) -> None:
    contenders = 6
    barrier = threading.Barrier(contenders)

    def contender(worker: str) -> list[tuple[int, str, bool]]:
        mine = []
        for round_no in range(RACE_ROUNDS):
            barrier.wait(timeout=60)
            mine.append(
                (round_no, worker, store.acquire_lease(f"job-{round_no}", worker, TTL, NOW))
            )
        return mine

    run: Callable[[str], list[tuple[int, str, bool]]] = contender
    with ThreadPoolExecutor(contenders) as pool:
        per_thread = list(pool.map(run, [f"thread-{i}" for i in range(contenders)]))
    _check_one_winner_each(store, [o for outcomes in per_thread for o in outcomes], contenders)
