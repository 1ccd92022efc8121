"""Every benchmark runs once at tiny sizes (BENCH_SMOKE=1): a smoke test, no timing.

Each bench/bench_*.py runs in its own process and must exit 0 and print at least
one machine row (``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio``) that
bench/run.py can collect. reader, the poll benchmark's baseline, is a bench-only
dependency: without it the poll benchmark says so and measures the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("bench_*.py"))


def _smoke_ready(name: str) -> bool:
    return "BENCH_SMOKE" in (BENCH / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_runs_once_tiny(name: str, tmp_path: Path) -> None:
    assert _smoke_ready(name), f"{name} has no BENCH_SMOKE sizes: give it tiny ones"
    env = {**os.environ, "BENCH_SMOKE": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, str(BENCH / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("\t") for line in done.stdout.splitlines() if line.startswith("BENCH\t")]
    assert rows, f"{name} printed no BENCH rows"
    for row in rows:
        assert len(row) == 6, row
        float(row[3])  # the value is a number
        assert row[5] == "-" or row[5].endswith("x"), row


def test_run_collects_rows_into_one_table(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_SMOKE": "1", "BENCH_OUT": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "bench_edition_dedupe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("| stage") and lines[1].startswith("|--")
    assert any("edition dedupe" in line and "ms" in line for line in lines[2:])
    assert "BENCH\t" in (tmp_path / "bench_edition_dedupe.txt").read_text()  # its own output
