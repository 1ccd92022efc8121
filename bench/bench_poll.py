"""Benchmark: a cold and a warm poll of many feeds, against the tools a newsroom knows.

Generated feeds (30 stories, about 150 KB each, content:encoded, categories,
media:content) come from a separate server process (bench/feedserver.py) that
listens on 127.0.0.1 ... 127.0.0.30, adds a latency to every answer and answers
conditional requests. Each contender runs as its own process, cold (an empty
database) and then warm (every feed again, nothing changed), side by side:
- the sequential loop: ``feedparser.parse(url)`` one feed after the other (what
  rss2email does), warm with the ETag and Last-Modified it got;
- ``reader``'s ``update_feeds(workers=N, scheduled=False)``, at each N tried (the
  best is the baseline; reader is a bench-only dependency: ``pip install --group
  bench``). ``scheduled=False`` because reader's default (True since 3.13) updates
  only feeds whose update interval has passed: its "warm" run then asked no server
  anything (0 requests), which is not a poll of every feed;
- ``roundup poll`` (cold) and ``roundup poll --all`` (warm), with the shipped
  defaults, on SQLite.
For 300 feeds at 50 ms, the warm poll is also timed inside one long-lived process,
where start-up is paid once: roundup as its scheduler (`roundup run`) polls, and
reader as a program calls it (`RESIDENT_*`).
Figures: wall time, CPU time (with a parse pool's workers), peak RSS (the main
process; the largest worker beside it), stories a second, bodies sent on the warm
poll (roundup: bodies parsed), and roundup's parse share (the workers' CPU over all
CPU). Ratios are against the sequential loop of the same run.

Run: .venv/bin/python bench/bench_poll.py   (BENCH_SMOKE=1: a few feeds, once)
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import ROOT, SMOKE, Run, measure, row

PY = sys.executable
HOSTS = 3 if SMOKE else 30
# reader's worker counts tried (the best is its baseline). 32 was its best against
# 8 and 16 in every full sweep (README), and each count tried costs `make bench`
# about 50 s of its 10 minutes: BENCH_READER_WORKERS=8,16,32,64 sweeps again.
READER_WORKERS = (
    (2,)
    if SMOKE
    else tuple(int(n) for n in os.environ.get("BENCH_READER_WORKERS", "32").split(","))
)
# (feeds, latency in seconds, which baselines run): the sequential loop of 1,000
# feeds would take minutes on its own, and says nothing the 300 do not.
# Warm polls of reader and roundup take about a second: the best of three is shown
# (one run for 1,000 feeds, where a warm poll is seconds long). The sequential
# loop's warm poll is 300 round trips in a row, and runs once.
WARM_RUNS = 1 if SMOKE else 3
CASES = [(6, 0.0, True)] if SMOKE else [(300, 0.05, True), (300, 0.0, True), (1000, 0.05, False)]

SEQUENTIAL = r"""
import json, sys, feedparser
urls = sys.stdin.read().split()
state_file = sys.argv[1]
try:
    state = json.load(open(state_file))
except FileNotFoundError:
    state = {}
stories = 0
for url in urls:
    known = state.get(url, {})
    d = feedparser.parse(url, etag=known.get("etag"), modified=known.get("modified"))
    stories += len(d.entries)
    state[url] = {"etag": d.get("etag"), "modified": d.get("modified")}
json.dump(state, open(state_file, "w"))
print(stories)
"""

READER = r"""
import sys
from reader import make_reader
urls = sys.stdin.read().split()
reader = make_reader(sys.argv[1])
for url in urls:
    reader.add_feed(url, exist_ok=True)
reader.update_feeds(workers=int(sys.argv[2]), scheduled=False)
print(reader.get_entry_counts().total)
"""


# Warm polls inside one long-lived process, as `roundup run` (the scheduler) polls and
# as a program would call reader: start-up and imports are paid once, before. The
# first poll is not timed; then `WARM_RUNS` polls (the last argument), their seconds
# one per line.
RESIDENT_ROUNDUP = r"""
import sys, time
from bot import pipeline
from bot.context import open_context
ctx = open_context(sys.argv[1])
pipeline.poll(ctx, force=True)
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    pipeline.poll(ctx, force=True)
    print(time.perf_counter() - started)
ctx.close()
"""
RESIDENT_READER = r"""
import sys, time
from reader import make_reader
reader = make_reader(sys.argv[1])
reader.update_feeds(workers=int(sys.argv[2]), scheduled=False)
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    reader.update_feeds(workers=int(sys.argv[2]), scheduled=False)
    print(time.perf_counter() - started)
"""


@dataclass
class Server:
    proc: subprocess.Popen[str]
    hosts: dict[str, int]

    def urls(self, feeds: int) -> list[str]:
        names = sorted(self.hosts, key=lambda h: int(h.rsplit(".", 1)[1]))
        return [
            f"http://{names[i % len(names)]}:{self.hosts[names[i % len(names)]]}/feed/{i}.xml"
            for i in range(feeds)
        ]

    def _get(self, path: str) -> bytes:
        port = self.hosts["127.0.0.1"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return bytes(answer.read())

    def reset(self) -> None:
        self._get("/_reset")

    def bodies_sent(self) -> int:
        return int(json.loads(self._get("/_stats"))["200"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start_server(feeds: int, latency: float) -> Server:
    proc = subprocess.Popen(
        [
            PY,
            str(ROOT / "bench" / "feedserver.py"),
            "--feeds",
            str(feeds),
            "--hosts",
            str(HOSTS),
            "--latency",
            str(latency),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return Server(proc, json.loads(proc.stdout.readline())["hosts"])


@dataclass
class Result:
    name: str
    cold: Run
    warm: Run
    stories: int
    warm_bodies: int


def _stories(text: str) -> int:
    numbers = re.findall(r"\d+", text.strip().splitlines()[-1] if text.strip() else "")
    return int(numbers[0]) if numbers else 0


def _check(run: Run, what: str, ok: tuple[int, ...] = (0,)) -> Run:
    if run.returncode not in ok:
        raise SystemExit(f"{what} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return run


def run_sequential(server: Server, urls: list[str], tmp: Path) -> Result:
    state = tmp / "sequential.json"
    stdin = "\n".join(urls)
    server.reset()
    cold = _check(measure([PY, "-c", SEQUENTIAL, str(state)], stdin=stdin), "sequential")
    server.reset()
    warm = _check(measure([PY, "-c", SEQUENTIAL, str(state)], stdin=stdin), "sequential")
    return Result(
        "sequential feedparser loop", cold, warm, _stories(cold.stdout), server.bodies_sent()
    )


def best_warm(server: Server, feeds: int, run: Callable[[], Run]) -> Run:
    """The fastest of `WARM_RUNS` warm runs: one run of about a second is mostly
    noise on a shared machine, and every contender gets the same number of tries
    (one, past 300 feeds: seconds long, those runs are steadier)."""
    runs = []
    for _ in range(WARM_RUNS if feeds <= 300 else 1):
        server.reset()
        runs.append(run())
    return min(runs, key=lambda r: r.wall)


def run_reader(server: Server, urls: list[str], tmp: Path, workers: int) -> Result:
    db = tmp / f"reader-{workers}.sqlite"
    stdin = "\n".join(urls)
    argv = [PY, "-c", READER, str(db), str(workers)]
    server.reset()
    cold = _check(measure(argv, stdin=stdin), "reader")
    warm = best_warm(server, len(urls), lambda: _check(measure(argv, stdin=stdin), "reader"))
    return Result(
        f"reader workers={workers}", cold, warm, _stories(cold.stdout), server.bodies_sent()
    )


def precompile() -> None:
    """Compile roundup's modules to bytecode first, as installing its wheel does.

    From a source checkout (an editable install), Python writes the bytecode on the
    first run; but where PYTHONDONTWRITEBYTECODE is set (some shells, containers,
    CI images) it writes none and compiles every module from source on every start:
    each run of roundup would then pay ~40 ms for the compiler, which an installed
    roundup never does. The baselines import installed packages, already compiled.
    """
    compileall.compile_dir(ROOT / "bot", quiet=1)


def run_roundup(server: Server, urls: list[str], tmp: Path) -> Result:
    precompile()
    data = yaml.safe_load((ROOT / "config" / "feeds.yaml").read_text(encoding="utf-8"))
    data["feeds"] = [{"name": f"feed{i}", "url": url} for i, url in enumerate(urls)]
    data["fetch"] = {}  # the shipped defaults
    config = tmp / "feeds.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'roundup.db'}", "COLUMNS": "200"}
    roundup = [PY, "-m", "bot"]
    # The schema is made first, as `roundup db upgrade` does once on a new install.
    _check(measure([*roundup, "db", "upgrade", "--config", str(config)], env=env), "db upgrade")
    server.reset()
    # Exit 1 means a feed failed: measured all the same, and the table shows it.
    poll = [*roundup, "poll", "--config", str(config)]
    cold = _check(measure(poll, env=env), "roundup poll", ok=(0, 1))
    argv = [*roundup, "poll", "--all", "--config", str(config)]
    warm = best_warm(
        server, len(urls), lambda: _check(measure(argv, env=env), "roundup poll --all", ok=(0, 1))
    )
    new = re.search(r"new (\d+)", cold.stdout)
    fetched = re.search(r"fetched (\d+)", warm.stdout)
    return Result(
        "roundup poll",
        cold,
        warm,
        int(new.group(1)) if new else 0,
        int(fetched.group(1)) if fetched else -1,
    )


def run_resident(argv: list[str], env: dict[str, str] | None = None) -> float:
    """The best warm poll of a long-lived process (`RESIDENT_*`), in seconds."""
    run = _check(measure([*argv, str(WARM_RUNS)], env=env), "resident poll")
    return min(float(line) for line in run.stdout.split())


def resident(tmp: Path, workers: int | None, base: Result | None, have_reader: bool) -> None:
    """Warm polls in a resident process: roundup as `roundup run` polls, reader as a
    program calls it (the database each command run left, nothing changed since)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'roundup.db'}"}
    ours = run_resident([PY, "-c", RESIDENT_ROUNDUP, str(tmp / "feeds.yaml")], env)
    theirs = None
    if have_reader and workers is not None:
        db = tmp / f"reader-{workers}.sqlite"
        theirs = run_resident([PY, "-c", RESIDENT_READER, str(db), str(workers)])
    print("  warm, in a resident process (start-up paid once before):")
    stage = "poll resident"
    for name, wall in (("roundup (as roundup run)", ours), (f"reader workers={workers}", theirs)):
        if wall is None:
            continue
        ratio = base.warm.wall / wall if base else None
        shown = f"{ratio:.1f}x" if ratio else "-"
        print(f"  {name:<28}{wall:>10.2f}s{'':>39}{shown:>10}")
        row(stage, f"{name}: warm wall", wall, "s", ratio)


def report(case: str, results: list[Result], base: Result | None) -> None:
    print(f"\n{case}")
    print(
        f"  {'':<28}{'cold wall':>10}{'cpu':>8}{'rss MB':>8}{'stories/s':>11}"
        f"{'warm wall':>11}{'bodies':>8}{'vs loop cold/warm':>20}"
    )
    for r in results:
        ratio_cold = base.cold.wall / r.cold.wall if base else None
        ratio_warm = base.warm.wall / r.warm.wall if base else None
        ratios = f"{ratio_cold:.1f}x / {ratio_warm:.1f}x" if base else "-"
        rss = f"{r.cold.rss_mb:.0f}" + (
            f"+{r.cold.helper_rss_mb:.0f}" if r.cold.helper_rss_mb else ""
        )
        print(
            f"  {r.name:<28}{r.cold.wall:>9.2f}s{r.cold.cpu:>7.1f}s{rss:>8}"
            f"{r.stories / r.cold.wall:>11.0f}{r.warm.wall:>10.2f}s{r.warm_bodies:>8}{ratios:>20}"
        )
        stage = f"poll {case}"
        row(stage, f"{r.name}: cold wall", r.cold.wall, "s", ratio_cold)
        row(stage, f"{r.name}: warm wall", r.warm.wall, "s", ratio_warm)
        row(stage, f"{r.name}: cold CPU", r.cold.cpu, "s")
        row(stage, f"{r.name}: peak RSS", r.cold.rss_mb, "MB")
        row(stage, f"{r.name}: stories/s", r.stories / r.cold.wall, "/s")
        row(stage, f"{r.name}: warm bodies", r.warm_bodies, "bodies")
        if r.cold.helper_cpu:
            row(stage, f"{r.name}: parse worker peak RSS", r.cold.helper_rss_mb, "MB")
            row(stage, f"{r.name}: parse share of CPU", 100 * r.cold.helper_cpu / r.cold.cpu, "%")


def main() -> None:
    have_reader = importlib.util.find_spec("reader") is not None
    if not have_reader:
        print("reader is not installed (pip install --group bench): its baseline is skipped")
    best_workers: int | None = None
    for feeds, latency, baselines in CASES:
        case = f"{feeds} feeds @{latency * 1000:.0f}ms"
        server = start_server(feeds, latency)
        try:
            urls = server.urls(feeds)
            with tempfile.TemporaryDirectory() as tmp:
                results: list[Result] = []
                base = run_sequential(server, urls, Path(tmp)) if baselines else None
                if base:
                    results.append(base)
                if have_reader:
                    tried = READER_WORKERS if best_workers is None else (best_workers,)
                    readers = [run_reader(server, urls, Path(tmp), n) for n in tried]
                    best = min(readers, key=lambda r: r.cold.wall)
                    best_workers = best_workers or int(best.name.rsplit("=", 1)[1])
                    results.extend(readers)
                results.append(run_roundup(server, urls, Path(tmp)))
                report(case, results, base)
                if (feeds == 300 and latency > 0) or SMOKE:
                    server.reset()
                    resident(Path(tmp), best_workers, base, have_reader)
        finally:
            server.close()


if __name__ == "__main__":
    main()
