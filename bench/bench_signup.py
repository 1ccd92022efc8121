"""Benchmark: does the sign-up's answer time tell whether an address can be mailed?

Serves the web app with uvicorn on 127.0.0.1 (a real SQLite store, the outbox
transport) and times `POST /subscribe` for addresses in each state: new (a mail is
queued), pending and mailed just now, active, and complained (no mail). Prints the
median and the spread per state, and each median's ratio to the new address's: with
the mail queued and sent in the background, every ratio should be about 1. Numbers
only: nothing here asserts.

Run: .venv/bin/python bench/bench_signup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import FixedClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.context import open_context  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.types import SubscriberStatus  # noqa: E402
from bot.web import create_app  # noqa: E402
from bot.web.signup_limit import SignupLimits, SlidingWindow  # noqa: E402

CONFIG = ROOT / "tests" / "fixtures" / "render" / "config.yaml"
SECRET = "bench-secret-" + "s" * 40
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
STATES = ("new", "pending", "active", "complained")


def serve(database_url: str, outbox: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = load_config(CONFIG)
    config = config.model_copy(
        update={
            "newsletter": config.newsletter.model_copy(update={"base_url": base}),
            "send": config.send.model_copy(
                update={"transport": "outbox", "outbox_dir": str(outbox)}
            ),
        }
    )
    clock = FixedClock()
    app = create_app(
        lambda: open_context(config, database_url=database_url, clock=clock, migrate=False),
        secret=SECRET,
        webhook_public_key="",
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    # The bench measures the answer, not the limits: lift them for its one client.
    limits = SignupLimits(SlidingWindow(10**9, HOUR), SlidingWindow(10**9, HOUR))
    app.state.roundup.signup_limits = limits
    return base, server, thread


HOUR = timedelta(hours=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    smoke = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
    parser.add_argument("--rounds", type=int, default=5 if smoke else 100)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = open_store(url)
        store.upgrade()
        now = FixedClock().now()
        for i in range(rounds):
            store.add_subscriber(f"active{i}@example.org", now=now, status=SubscriberStatus.ACTIVE)
            store.add_subscriber(
                f"complained{i}@example.org", now=now, status=SubscriberStatus.COMPLAINED
            )
        base, server, thread = serve(url, Path(tmp) / "outbox")
        times: dict[str, list[float]] = {state: [] for state in STATES}
        shuffler = random.Random(0)
        with httpx.Client(base_url=base, timeout=10) as client:
            field = CSRF.search(client.get("/subscribe").text).group(1)  # type: ignore[union-attr]
            for i in range(rounds):
                # Shuffled: the background send after a "new" one slows whatever comes next.
                order = list(STATES[1:])
                shuffler.shuffle(order)
                for state in ["new", *order]:
                    # "pending": signed up a moment ago (as "new" this round).
                    email = f"{'new' if state == 'pending' else state}{i}@example.org"
                    started = time.perf_counter()
                    answer = client.post("/subscribe", data={"csrf": field, "email": email})
                    times[state].append(time.perf_counter() - started)
                    assert answer.status_code == 200, answer.text
        server.should_exit = True
        thread.join(10)
        store.close()
    base_median = statistics.median(times["new"])
    print(f"sign-up answer time, {rounds} rounds (median, 10th-90th percentile):")
    for state in STATES:
        values = sorted(times[state])
        low, high = values[len(values) // 10], values[len(values) * 9 // 10]
        median = statistics.median(values)
        print(
            f"  {state:<11} {median * 1000:6.2f} ms  ({low * 1000:.2f}-{high * 1000:.2f} ms)"
            f"  ratio to new: {median / base_median:.2f}"
        )
        ratio = f"{median / base_median:.2f}x"
        print(f"BENCH\tsign-up\t{state} answer\t{median * 1000:.4g}\tms\t{ratio}", flush=True)


if __name__ == "__main__":
    main()
