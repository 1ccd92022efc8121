"""Log lines: plain by default, one JSON object per line with ROUNDUP_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_extra_fields(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_LOG_FORMAT", "json")
    configure_logging(logging.INFO)
    log = logging.getLogger("bot.scheduler")
    log.warning("feed %s is down", "main", extra={"notice": "feed-down"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("job %s failed", "poll", extra={"job": "poll"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "feed main is down"
    assert (lines[0]["level"], lines[0]["logger"], lines[0]["notice"]) == (
        "warning",
        "bot.scheduler",
        "feed-down",
    )
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["job"] == "poll" and "ValueError: boom" in lines[1]["error"]


def test_plain_lines_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROUNDUP_LOG_FORMAT", raising=False)
    configure_logging(logging.INFO)
    logging.getLogger("bot.scheduler").info("took the scheduler lease")
    assert capsys.readouterr().err == "INFO bot.scheduler: took the scheduler lease\n"
