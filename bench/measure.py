"""Shared helpers of the benchmarks: run a command and measure it, print machine rows.

`measure(argv)` runs a process to its end and returns its wall time, the CPU time
of it and of every process it started (a parse pool's fork server and workers are
adopted by this process when their parent exits, because it is a child subreaper,
and waited for here), the peak RSS of the main process and of its helpers, and
its output. `row(...)` prints one machine-readable line that bench/run.py collects:
``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio-or-dash``.
`SMOKE` is true under ``BENCH_SMOKE=1``: every benchmark then runs once, tiny.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ROOT = Path(__file__).resolve().parent.parent
_PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def _become_subreaper() -> None:
    global _subreaper
    if _subreaper:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: helpers' CPU time is then not counted
    _subreaper = True


def _children() -> set[int]:
    found: set[int] = set()
    for task in Path("/proc/self/task").glob("*"):
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # seconds, the process and every helper it started
    helper_cpu: float  # seconds, the helpers alone (a parse pool's workers)
    rss_mb: float  # peak RSS of the main process
    helper_rss_mb: float  # peak RSS of the largest helper (0 without helpers)
    returncode: int
    stdout: str
    stderr: str


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    cwd: Path | None = None,
    keep: Sequence[int] = (),
) -> Run:
    """Run `argv` to its end; `keep` are pids of our own servers, never waited for."""
    _become_subreaper()
    before = _children()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        # wait4, not Popen.wait: it also gives the process's own CPU time and peak RSS.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        helper_cpu, helper_rss = _reap_helpers(before | set(keep))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime + helper_cpu,
        helper_cpu=helper_cpu,
        rss_mb=usage.ru_maxrss / 1024,
        helper_rss_mb=helper_rss / 1024,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
    )


def _reap_helpers(ignore: set[int], patience: float = 10.0) -> tuple[float, int]:
    """Wait for the orphans we adopted; their CPU seconds and largest peak RSS (KB)."""
    cpu, rss = 0.0, 0
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        pending = _children() - ignore
        if not pending:
            break
        for pid in pending:
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                ignore.add(pid)
                continue
            if done:
                cpu += usage.ru_utime + usage.ru_stime
                rss = max(rss, usage.ru_maxrss)
        time.sleep(0.01)
    return cpu, rss


def row(stage: str, figure: str, value: float, unit: str, ratio: float | None = None) -> None:
    """One machine row for bench/run.py."""
    shown = f"{ratio:.1f}x" if ratio is not None else "-"
    print(f"BENCH\t{stage}\t{figure}\t{value:.4g}\t{unit}\t{shown}", flush=True)
