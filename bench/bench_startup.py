"""Benchmark: how long roundup takes to start, against a bare Python.

Runs `python -c pass`, `roundup --help`, `roundup feeds --json` (on a migrated
SQLite database with the bundled config) and `roundup status --json` where this
roundup has it, several times each in fresh processes; prints the best wall and
CPU time and peak RSS of each, and the ratio to `python -c pass`.

Run: .venv/bin/python bench/bench_startup.py   (BENCH_SMOKE=1: once each)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import ROOT, SMOKE, Run, measure, row

ROUNDS = 1 if SMOKE else 7
PY = sys.executable
CONFIG = str(ROOT / "config" / "feeds.yaml")


def best(argv: list[str], env: dict[str, str]) -> Run:
    runs = [measure(argv, env=env) for _ in range(ROUNDS)]
    for run in runs:
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{run.stderr[-2000:]}")
    return min(runs, key=lambda r: r.wall)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'roundup.db'}"}
        roundup = [PY, "-m", "bot"]
        best([*roundup, "db", "upgrade", "--config", CONFIG], env)
        cases = {
            "python -c pass": [PY, "-c", "pass"],
            "roundup --help": [*roundup, "--help"],
            "roundup feeds --json": [*roundup, "feeds", "--json", "--config", CONFIG],
        }
        has_status = measure([*roundup, "status", "--help"], env=env).returncode == 0
        if has_status:
            cases["roundup status --json"] = [*roundup, "status", "--json", "--config", CONFIG]
        results = {name: best(argv, env) for name, argv in cases.items()}
    base = results["python -c pass"]
    print(f"best of {ROUNDS} runs each")
    print(f"  {'':<24}{'wall ms':>9}{'cpu ms':>9}{'rss MB':>8}{'vs python':>11}")
    for name, run in results.items():
        ratio = run.wall / base.wall
        print(
            f"  {name:<24}{run.wall * 1000:>9.0f}{run.cpu * 1000:>9.0f}"
            f"{run.rss_mb:>8.0f}{ratio:>10.1f}x"
        )
        row("start-up", f"{name}: wall", run.wall * 1000, "ms", ratio)
        row("start-up", f"{name}: CPU", run.cpu * 1000, "ms")
        row("start-up", f"{name}: peak RSS", run.rss_mb, "MB")


if __name__ == "__main__":
    main()
