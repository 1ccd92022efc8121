"""`roundup run` as real processes: two runners on one PostgreSQL database and on one
SQLite file (one acts; kill -9 of the holder hands over at once, the dead holder
being on this host; nothing runs twice, counted in the outbox and the ledger);
SIGTERM in the middle of a send (the ledger stays consistent and the next runner
finishes the send); `roundup status --json` against the running scheduler; the web
app's /healthz and /readyz under `roundup run`.

The processes run with the shipped lease_ttl (60s) and with ROUNDUP_TEST_NOW set
just after the send time of week 2026-W48, so taking the lease catches that send up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import edition as editions
from bot.clock import FixedClock
from bot.context import open_context
from bot.lease import Holder
from bot.store import open_store
from bot.types import BatchState, EditionState
from tests.scheduling import (
    DRAFT_AT,
    KEY,
    SECRET,
    SEND_AT,
    add_stories,
    add_subscribers,
    approve,
    outbox,
    write_config,
)
from tests.sendgrid_server import API_KEY, Accepted, SendGridServer

NOW = SEND_AT + timedelta(seconds=30)
WAIT = 60.0  # the most any step may take on a loaded machine


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Runners:
    """Starts `roundup run` processes for one config and database; stops them after."""

    def __init__(self, tmp_path: Path, url: str, config: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.url, self.config = tmp_path, url, config
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "ROUNDUP_TEST_NOW": NOW.isoformat(),
            "ROUNDUP_SECRET_KEY": SECRET,
            "ROUNDUP_LOG_FORMAT": "json",
            **env,
        }
        self.env.pop("ROUNDUP_CONFIG", None)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}.log").open("wb")
        argv = [sys.executable, "-m", "bot", "run", *args, "--config", str(self.config)]
        proc = subprocess.Popen(argv, cwd=self.tmp_path, env=self.env, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> list[dict[str, Any]]:
        lines = (self.tmp_path / f"{name}.log").read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def logged(self, name: str, text: str) -> bool:
        return any(text in entry["message"] for entry in self.log(name))

    def holder_pid(self) -> int | None:
        store = open_store(self.url)
        try:
            lease = store.lease_state("scheduler")
        finally:
            store.close()
        holder = Holder.parse(lease.holder) if lease else None
        return holder.pid if holder else None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "bot", *args, "--config", str(self.config)]
        return subprocess.run(
            argv, cwd=self.tmp_path, env=self.env, capture_output=True, text=True, timeout=WAIT
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def runners_for(tmp_path: Path) -> Iterator[Callable[..., Runners]]:
    made: list[Runners] = []

    def make(url: str, config: Path, **env: str) -> Runners:
        made.append(Runners(tmp_path, url, config, env))
        return made[-1]

    yield make
    for r in made:
        r.stop_all()


def prepare(tmp_path: Path, url: str, readers: int, **config: Any) -> tuple[Path, list[str]]:
    """An approved edition 2026-W48 and its readers, as the week left them."""
    path = write_config(tmp_path, **config)
    os.environ.setdefault("ROUNDUP_SECRET_KEY", SECRET)
    with open_context(path, database_url=url, clock=FixedClock(DRAFT_AT)) as ctx:
        add_stories(ctx, 3, DRAFT_AT)
        editions.draft(ctx.store, ctx.config, DRAFT_AT)
        approve(ctx)
        emails = add_subscribers(ctx, readers)
    return path, emails


def ledger(url: str) -> tuple[EditionState | None, Counter[BatchState], int]:
    store = open_store(url)
    try:
        edition = store.get_edition(KEY)
        states = Counter(b.state for b in store.list_batches(KEY))
        sends = [r for r in store.job_runs("send") if r.slot == KEY]
        return (edition.state if edition else None), states, len(sends)
    finally:
        store.close()


def test_two_runners_one_acts_and_a_killed_holder_hands_over_at_once(
    tmp_path: Path, database_url: str, runners_for: Callable[..., Runners]
) -> None:
    config, readers = prepare(tmp_path, database_url, 6)
    r = runners_for(database_url, config)
    a = r.start("a", "--no-web")
    wait_for("runner a to take the lease", lambda: r.holder_pid() == a.pid)
    b = r.start("b", "--no-web")
    wait_for("runner b to stand by", lambda: r.logged("b", "standing by"))
    wait_for("the send", lambda: ledger(database_url)[0] is EditionState.SENT)

    status = json.loads(r.cli("status", "--json").stdout)
    assert status["scheduler"]["pid"] == a.pid
    assert status["scheduler"]["holder"] == {"host": socket.gethostname(), "pid": a.pid}
    assert status["scheduler"]["until"] > status["now"]
    assert {j["name"] for j in status["scheduler"]["jobs"]} >= {"poll", "draft", "send"}
    assert all(j["next_run"] for j in status["scheduler"]["jobs"])
    assert (status["edition"]["key"], status["edition"]["state"]) == (KEY, "sent")
    assert status["last_send"]["accepted"] == status["last_send"]["batches"] == 3
    assert not r.logged("b", "took the scheduler lease")

    a.send_signal(signal.SIGKILL)
    a.wait()
    killed = time.monotonic()
    wait_for("runner b to take over", lambda: r.holder_pid() == b.pid)
    assert time.monotonic() - killed < 60  # within the lease time: the holder is gone
    wait_for("b's catch-up", lambda: r.logged("b", "job catch-up"))
    assert r.logged("b", f"pid {a.pid} on host {socket.gethostname()} has ended")

    state, batches, send_runs = ledger(database_url)
    assert (state, batches, send_runs) == (EditionState.SENT, Counter({BatchState.ACCEPTED: 3}), 1)
    assert Counter(outbox(tmp_path)) == Counter(readers)  # each reader once, after both runners
    assert json.loads(r.cli("status", "--json").stdout)["scheduler"]["pid"] == b.pid

    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=WAIT) == 0
    assert r.holder_pid() is None  # released
    stopped = json.loads(r.cli("status", "--json").stdout)["scheduler"]
    assert stopped["holder"] is None and stopped["pid"] is None


class SlowSendGrid(SendGridServer):
    """Takes a moment over each request, so a signal lands in the middle of a send."""

    def handle(self, req: Any) -> None:
        time.sleep(0.4)
        super().handle(req)

    def edition_requests(self) -> list[Accepted]:
        """Accepted requests of the round-up (ops notices go through here too)."""
        return [a for a in self.accepted if a.custom_args and a.custom_args[0].get("edition")]

    def readers(self) -> Counter[str]:
        return Counter(email for a in self.edition_requests() for email in a.recipients)


def test_sigterm_during_a_send_leaves_the_ledger_consistent_and_the_next_runner_finishes(
    tmp_path: Path, sqlite_url: str, runners_for: Callable[..., Runners]
) -> None:
    config, readers = prepare(tmp_path, sqlite_url, 8, batch_size=1, transport="sendgrid")
    with SlowSendGrid() as server:
        r = runners_for(sqlite_url, config, SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=server.url)
        a = r.start("a", "--no-web")
        wait_for("the send to start", lambda: len(server.edition_requests()) >= 2)
        a.send_signal(signal.SIGTERM)
        assert a.wait(timeout=WAIT) == 0
        state, batches, _ = ledger(sqlite_url)
        assert state is EditionState.SENDING
        assert batches[BatchState.IN_FLIGHT] == batches[BatchState.AMBIGUOUS] == 0
        sent = len(server.edition_requests())
        assert batches[BatchState.ACCEPTED] == sent < 8
        assert batches[BatchState.PENDING] == 8 - sent
        assert r.holder_pid() is None
        assert r.logged("a", "stopped after its batch in flight")

        b = r.start("b", "--no-web")
        wait_for("the send to finish", lambda: ledger(sqlite_url)[0] is EditionState.SENT)
        assert server.readers() == Counter(readers)  # everyone, once
        assert ledger(sqlite_url)[1] == Counter({BatchState.ACCEPTED: 8})
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=WAIT) == 0


def test_run_serves_the_web_app_with_health_and_readiness(
    tmp_path: Path, sqlite_url: str, runners_for: Callable[..., Runners]
) -> None:
    config = write_config(tmp_path)
    r = runners_for(sqlite_url, config)
    proc = r.start("web", "--port", "0")
    found = wait_for(
        "the web app to listen",
        lambda: next(
            (
                m
                for e in r.log("web")
                if (m := re.search(r"running on http://127\.0\.0\.1:(\d+)", e["message"]))
            ),
            None,
        ),
    )
    base = f"http://127.0.0.1:{found.group(1)}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
        assert (answer.status, json.load(answer)) == (200, {"status": "ok"})
    wait_for("the lease", lambda: r.holder_pid() == proc.pid)
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as answer:
        body = json.load(answer)
        assert (answer.status, body["store"], body["scheduler"]) == (200, "ok", "holder")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT) == 0
    assert r.holder_pid() is None
