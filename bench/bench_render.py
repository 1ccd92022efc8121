"""Benchmark: rendering a full 25-story round-up of long ledes.

Prints the median time of `render_edition` over N runs (wall and CPU), the same for
the renderer with CSS inlining switched off (the baseline measured in the same run:
the templates alone; the ratio is what inlining costs), and the HTML size against
Gmail's 102 KB clip (past it Gmail hides the rest of the message, the unsubscribe
link with it). The goals: under 50 ms and under 80 KB. In the machine rows the
ratio of a time is to the baseline's, of the HTML size to Gmail's clip.

Machine rows: ``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio-or-dash``.
``BENCH_SMOKE=1`` runs once at a tiny size. Run from the repository root:
``python bench/bench_render.py [RUNS]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.render import content_hash, render_edition
from bot.render.email import render_parts
from tests.render_editions import fixture_config, full_edition

SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
GMAIL_CLIP_KB = 102
STORIES = 3 if SMOKE else 25


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(wall, CPU) medians in milliseconds."""
    fn()  # warm up: template compilation, caches
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def row(figure: str, value: float, unit: str, ratio: float | None = None) -> None:
    shown = "-" if ratio is None else f"{ratio:.2f}x"
    print(f"BENCH\trender\t{figure}\t{value:.4g}\t{unit}\t{shown}", flush=True)


def main() -> None:
    runs = 1 if SMOKE else int(sys.argv[1]) if len(sys.argv) > 1 else 30
    config = fixture_config()
    edition, items = full_edition(stories=STORIES, lede_chars=2000)

    full, full_cpu = median_ms(lambda: render_edition(edition, items, config), runs)
    bare, bare_cpu = median_ms(lambda: render_parts(edition, items, config, inline=False), runs)
    hashing, _ = median_ms(lambda: content_hash(edition, items, config), runs)
    rendered = render_edition(edition, items, config)
    raw = render_parts(edition, items, config, inline=False)
    html_kb = len(rendered.html.encode("utf-8")) / 1024
    raw_kb = len(raw.html.encode("utf-8")) / 1024
    text_kb = len(rendered.text.encode("utf-8")) / 1024

    print(f"render {STORIES}-story edition, median of {runs} runs")
    print(f"  with CSS inlining      {full:8.2f} ms  ({full_cpu:.2f} ms CPU)")
    print(f"  without (baseline)     {bare:8.2f} ms  ({bare_cpu:.2f} ms CPU)")
    print(f"  ratio                  {full / bare:8.2f} x")
    print(f"  content_hash           {hashing:8.2f} ms")
    print(
        f"  HTML inlined           {html_kb:8.1f} KB  ({html_kb / GMAIL_CLIP_KB:.0%} of the clip)"
    )
    print(f"  HTML before inlining   {raw_kb:8.1f} KB  (inlining x{html_kb / raw_kb:.2f})")
    print(f"  text part              {text_kb:8.1f} KB")
    stories = f"{STORIES}-story"
    row(f"{stories} render", full, "ms", full / bare)
    row(f"{stories} render, CPU", full_cpu, "ms", full_cpu / bare_cpu)
    row(f"{stories} render without inlining (baseline)", bare, "ms", 1.0)
    row(f"{stories} HTML", html_kb, "KB", html_kb / GMAIL_CLIP_KB)
    row(f"{stories} HTML before inlining", raw_kb, "KB", html_kb / raw_kb)
    row(f"{stories} text part", text_kb, "KB")
    row("content_hash", hashing, "ms")


if __name__ == "__main__":
    main()
