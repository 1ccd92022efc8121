"""`roundup subscribers import | export | count` as an operator runs them: a subprocess.

A few end-to-end runs on SQLite (each start of the command costs a second); the
store's behaviour on PostgreSQL and the import rules are tested in-process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "subscribers"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path, sqlite_url: str) -> Run:
    def runner(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": sqlite_url, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("ROUNDUP_CONFIG", None)
        argv = [sys.executable, "-m", "bot", *args, "--config", str(FIXTURES / "config.yaml")]
        return subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    return runner


def test_import_twice_then_count_and_export(run: Run, tmp_path: Path) -> None:
    first = run("subscribers", "import", str(FIXTURES / "basic.csv"), "--json")
    assert first.returncode == 1, first.stderr  # bad rows: exit 1, the rest imported
    report = json.loads(first.stdout)
    assert (report["added"], report["bad"], report["changed"]) == (6, 6, True)
    assert [b["line"] for b in report["bad_rows"]] == [6, 7, 8, 9, 11, 13]

    status = run("subscribers", "import", str(FIXTURES / "status.csv"))
    assert status.returncode == 1
    assert "unknown status 'vip'" in status.stdout
    assert "added 6" in status.stdout

    again = run("subscribers", "import", str(FIXTURES / "status.csv"))
    assert "added 0, updated 0, unchanged 4, skipped 2" in again.stdout
    assert "nothing changed" in again.stdout

    count = run("subscribers", "count", "--json")
    assert count.returncode == 0, count.stderr
    assert json.loads(count.stdout) == {
        "pending": 1,
        "active": 9,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 0,
        "total": 12,
    }
    exported = run("subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 12
    assert rows[1]["email"] == "Bob@example.org"
    assert rows[1]["regions"] == "Middle East;Asia-Pacific"
    assert [r["status"] for r in rows].count("active") == 9

    out = tmp_path / "all.csv"
    out.write_text(exported.stdout, encoding="utf-8")
    back = run("subscribers", "import", str(out), "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["changed"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", str(FIXTURES / "latin1.csv")), "is not UTF-8"),
        (("import", "missing.csv"), "cannot read missing.csv"),
        (("export", "--status", "gone"), "is not a status"),
        (("export", "--out", "no/such/dir/all.csv"), "cannot write no/such/dir/all.csv"),
    ],
)
def test_bad_usage_exits_2(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("subscribers", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_case_variants_of_one_address_are_one_subscriber(run: Run, tmp_path: Path) -> None:
    first = run("subscribers", "import", str(FIXTURES / "case_variants.csv"), "--json")
    report = json.loads(first.stdout)
    assert report["added"] == 2, first.stdout + first.stderr
    assert [b["line"] for b in report["bad_rows"]] == [3]  # GOOD1@EXAMPLE.COM: line 2 again
    later = tmp_path / "later.csv"
    later.write_text("email,status\nGood1@Example.COM,unsubscribed\n", encoding="utf-8")
    second = run("subscribers", "import", str(later))
    assert "added 0, updated 1" in second.stdout, second.stdout + second.stderr
    count = run("subscribers", "count", "--json")
    assert json.loads(count.stdout) == {
        "pending": 0,
        "active": 0,
        "unsubscribed": 2,
        "bounced": 0,
        "complained": 0,
        "total": 2,
    }
