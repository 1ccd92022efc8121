"""Benchmark: rendering a full 25-story round-up, against rendering without inlining.

Prints the median time of `render_edition` over N runs, the same for the renderer
with CSS inlining switched off (the baseline: templates alone), their ratio (what
inlining costs), and the HTML size against Gmail's 102 KB clip.
Run from the repository root: ``python bench/bench_render.py [RUNS]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.render import content_hash, render_edition
from bot.render.email import render_parts
from tests.render_editions import fixture_config, full_edition

GMAIL_CLIP_KB = 102


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up: template compilation, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    config = fixture_config()
    edition, items = full_edition(stories=25, lede_chars=2000)

    full = median_ms(lambda: render_edition(edition, items, config), runs)
    bare = median_ms(lambda: render_parts(edition, items, config, inline=False), runs)
    hashing = median_ms(lambda: content_hash(edition, items, config), runs)
    rendered = render_edition(edition, items, config)
    raw = render_parts(edition, items, config, inline=False)
    html_kb = len(rendered.html.encode("utf-8")) / 1024
    raw_kb = len(raw.html.encode("utf-8")) / 1024

    print(f"render 25-story edition, median of {runs} runs")
    print(f"  with CSS inlining      {full:8.2f} ms")
    print(f"  without (baseline)     {bare:8.2f} ms")
    print(f"  ratio                  {full / bare:8.2f} x")
    print(f"  content_hash           {hashing:8.2f} ms")
    print(
        f"  HTML inlined           {html_kb:8.1f} KB  ({html_kb / GMAIL_CLIP_KB:.0%} of the clip)"
    )
    print(f"  HTML before inlining   {raw_kb:8.1f} KB  (inlining x{html_kb / raw_kb:.2f})")
    print(f"  text part              {len(rendered.text.encode('utf-8')) / 1024:8.1f} KB")


if __name__ == "__main__":
    main()
