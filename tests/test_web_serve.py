"""`roundup serve` as an operator runs it: a subprocess on an ephemeral port, its
access log read from its output. Link tokens never reach a log line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.clock import SystemClock
from bot.store import open_store
from bot.tokens import Purpose, make_token
from bot.types import SubscriberStatus

CONFIG = Path(__file__).resolve().parent / "fixtures" / "subscribers" / "config.yaml"
SECRET = "serve-secret-" + "s" * 40
STARTED = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 30.0


class Served:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = pattern.search(line)
                if found:
                    return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("roundup serve did not start:\n" + "".join(self.lines))


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[Served]:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "ROUNDUP_SECRET_KEY": SECRET,
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ROUNDUP_CONFIG", None)
    argv = [sys.executable, "-m", "bot", "serve", "--port", "0", "--config", str(CONFIG)]
    process = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # uvicorn logs access to stdout, the rest to stderr
        text=True,
    )
    try:
        yield Served(process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_no_token_reaches_the_access_log(served: Served, sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    sub = store.add_subscriber(
        "logged@example.org", now=SystemClock().now(), status=SubscriberStatus.ACTIVE
    )
    store.close()
    assert sub.public_id is not None
    base = served.wait_for(STARTED).group(1)
    now = SystemClock().now()
    tokens = {p: make_token(SECRET, p, sub.public_id, sub.email, now) for p in Purpose}
    paths = [
        f"/confirm/{tokens[Purpose.CONFIRM]}",
        f"/unsubscribe/{tokens[Purpose.UNSUBSCRIBE]}",
        f"/preferences/{tokens[Purpose.PREFERENCES]}?from=email",
        "/preferences/not-a-real-token-but-secret-looking",
    ]
    for path in paths:
        assert httpx.get(base + path, timeout=10).status_code in (200, 400)
    httpx.post(base + paths[1], data={"List-Unsubscribe": "One-Click"}, timeout=10)
    served.wait_for(re.compile(r'"POST /unsubscribe/'))
    log = "".join(served.lines)
    for secret in (*tokens.values(), "not-a-real-token-but-secret-looking"):
        assert secret not in log
    for purpose in Purpose:  # each request is still logged, its token redacted
        assert f'"GET /{purpose.value}/[redacted]' in log
    assert '"POST /unsubscribe/[redacted] HTTP/1.1" 200' in log
