"""Run every benchmark and print one table of their figures.

Runs each bench/bench_*.py in its own process (BENCH_SMOKE passes through), keeps
its human output in var/bench/NAME.txt, and collects the machine rows it prints,
``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio-or-dash``, into one
table: stage, figure, value with its unit, and the ratio to that stage's baseline.
A benchmark that fails is named in the table and makes the exit code 1; the others
still run.

Run: .venv/bin/python bench/run.py [NAME ...]   (e.g. bench_poll; default: all)
     .venv/bin/python bench/run.py --table      (the table again, from var/bench/)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = Path(os.environ.get("BENCH_OUT") or ROOT / "var" / "bench")


def rows_of(text: str) -> list[list[str]]:
    return [
        line.split("\t")[1:6]
        for line in text.splitlines()
        if line.startswith("BENCH\t") and line.count("\t") == 5
    ]


def run_one(script: Path) -> tuple[list[list[str]], str | None, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{script.stem}.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    rows = rows_of(done.stdout)
    error = None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        error = f"exit {done.returncode}: {last[:200]}"
    return rows, error, took


def table(rows: list[list[str]]) -> str:
    header = ["stage", "figure", "value", "ratio"]
    body = [
        [stage, figure, f"{value} {unit}".strip(), ratio]
        for stage, figure, value, unit, ratio in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    return "\n".join(lines)


def main(names: list[str]) -> int:
    if names == ["--table"]:
        logs = sorted(OUT.glob("bench_*.txt"))
        print(table([r for log in logs for r in rows_of(log.read_text(encoding="utf-8"))]))
        return 0
    scripts = sorted(BENCH.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem in names or s.name in names]
    rows: list[list[str]] = []
    failed = 0
    started = time.perf_counter()
    for script in scripts:
        print(f"running {script.name} ...", end=" ", flush=True, file=sys.stderr)
        found, error, took = run_one(script)
        print(f"{took:.0f} s" + (f" FAILED ({error})" if error else ""), file=sys.stderr)
        rows += found
        if error:
            failed += 1
            rows.append([script.stem, "FAILED", error, "", "-"])
    print(table(rows))
    print(
        f"\n{len(scripts)} benchmarks in {time.perf_counter() - started:.0f} s; "
        f"their own output is in {OUT}/"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
