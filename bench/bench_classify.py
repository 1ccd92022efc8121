"""Benchmark: classify 10,000 realistic items with the shipped rules.

Prints items per second of `Classifier.classify`, the same for a naive matcher
(one case-insensitive regex per pattern, tried one after another: the obvious
first implementation) and the ratio between them, then the time to read 10,000
items back from a real SQLite store and classify them (what `roundup classify
--dry-run` does). The items are built from the real items of the test fixtures
(titles and ledes of 12 outlets' feeds, the NYT feed with its categories),
recombined so no two are the same.

Machine rows: ``BENCH<TAB>stage<TAB>figure<TAB>value<TAB>unit<TAB>ratio-or-dash``.
``BENCH_SMOKE=1`` runs once with 200 items.
Run: .venv/bin/python bench/bench_classify.py [--items N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.classify import Classifier, plan_reclassify  # noqa: E402
from bot.config import Config, load_config  # noqa: E402
from bot.types import Item  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "classify"
TARGET = 10_000  # items per second the classifier must keep up
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")


def row(figure: str, value: float, unit: str, ratio: float | None = None) -> None:
    shown = "-" if ratio is None else f"{ratio:.2f}x"
    print(f"BENCH\tclassify\t{figure}\t{value:.6g}\t{unit}\t{shown}", flush=True)


def corpus() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(title, lede, url, tags) of every real item in the fixtures."""
    rows: list[tuple[str, str, str, tuple[str, ...]]] = []
    sample = json.loads((FIXTURES / "realworld_sample.json").read_text())["items"]
    rows += [(r["title"], r["lede"], r["url"], ()) for r in sample]
    for e in feedparser.parse(str(FIXTURES / "nyt_world_2024-08.xml")).entries:
        tags = tuple(t.term for t in e.get("tags", []))
        rows.append((e.title, e.get("summary", ""), e.link, tags))
    for s in json.loads((FIXTURES / "seed_stories.json").read_text())["stories"]:
        rows.append((s["title"], s["lede"], s["url"], tuple(s["tags"])))
    return rows


def make_items(n: int, seed: int = 7) -> list[Item]:
    """`n` items: real titles with the lede, url and tags of other real items."""
    rows = corpus()
    rng = random.Random(seed)
    items = []
    for i in range(n):
        title, lede, url, tags = rng.choice(rows)
        if i % 2:  # half of them recombined, so every title meets other ledes
            lede = rng.choice(rows)[1]
            tags = rng.choice(rows)[3] if i % 4 == 1 else ()
        # a canonical URL of its own: the store merges items that share one
        canonical = f"{url.split('?')[0]}?bench={i}"
        items.append(
            Item(
                key=f"bench-{i}",
                feed="bench",
                url=url,
                canonical_url=canonical,
                title=title,
                lede=lede,
                tags=tags,
            )
        )
    return items


class NaiveClassifier:
    """The obvious matcher: every pattern its own `\\b...\\b` regex, tried in turn."""

    def __init__(self, config: Config) -> None:
        self.rules: list[tuple[str, str, re.Pattern[str]]] = []
        for region in config.regions:
            for rule in region.rules:
                if rule.kind != "keyword":
                    continue
                for pattern in rule.keywords:
                    word = re.escape(pattern.rstrip("*"))
                    tail = r"\w*" if pattern.endswith("*") else r"\b"
                    self.rules.append((region.name, pattern, re.compile(rf"\b{word}{tail}", re.I)))
        self.fallback = config.fallback.name

    def classify(self, item: Item) -> str:
        text = f"{item.title}\n{item.lede}"
        for region, _pattern, regex in self.rules:
            if regex.search(text):
                return region
        return self.fallback


def rate(fn: Callable[[Item], object], items: list[Item], repeat: int = 3) -> float:
    return rates(fn, items, repeat)[0]


def rates(fn: Callable[[Item], object], items: list[Item], repeat: int = 3) -> tuple[float, float]:
    """Items per second of wall-clock time and of this process's CPU time (the
    second is steadier on a machine other processes keep busy)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        for item in items:
            fn(item)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return len(items) / wall, len(items) / max(cpu, 1e-9)


def store_roundtrip(classifier: Classifier, items: list[Item]) -> None:
    try:
        from bot.store import open_store
    except ImportError as exc:  # the store is another part; say so and go on
        print(f"store: not available ({exc}); skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        try:
            store.upgrade()
            now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
            start = time.perf_counter()
            store.upsert_items([(i, classifier.classify(i)) for i in items], now)
            stored_in = time.perf_counter() - start
            start = time.perf_counter()
            stored = list(store.iter_items())
            read = time.perf_counter() - start
            start = time.perf_counter()
            moves = plan_reclassify(stored, classifier)
            planned = time.perf_counter() - start
        finally:
            store.close()
    print(f"store: classify+upsert {len(items)} items into SQLite: {stored_in:.2f} s")
    print(f"store: read back {len(stored)} items (iter_items): {read:.2f} s")
    print(f"store: re-classify them (plan_reclassify): {planned:.2f} s, {len(moves)} moves")
    row("classify+upsert into SQLite", stored_in, "s")
    row("read back (iter_items)", read, "s")
    row("re-classify (plan_reclassify)", planned, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200 if SMOKE else 10_000)
    args = parser.parse_args()
    config = load_config(ROOT / "config" / "feeds.yaml")
    start = time.perf_counter()
    classifier = Classifier.from_config(config)
    built = time.perf_counter() - start
    items = make_items(args.items)
    patterns = sum(len(rule.patterns) for r in config.regions for rule in r.rules)
    print(f"rules: {len(config.regions)} regions, {patterns} patterns")
    print(f"compile: {built * 1000:.0f} ms")

    ours, ours_cpu = rates(classifier.classify, items, repeat=1 if SMOKE else 3)
    naive = NaiveClassifier(config)
    baseline = rate(naive.classify, items, repeat=1)
    print(f"classify: {ours:,.0f} items/s ({args.items} items; {ours_cpu:,.0f} per CPU-second)")
    target = "met" if ours >= TARGET else "NOT met"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"target {TARGET:,} items/s: {target} (load average {load:.1f} while measuring)")
    print(f"naive loop over {len(naive.rules)} keyword regexes: {baseline:,.0f} items/s")
    print(f"ratio: {ours / baseline:.1f}x the naive matcher (which also skips tags, urls,")
    print("       precedence, scores, exclusions, shared names and accent folding)")
    explain = rate(classifier.explain, items[:2000], repeat=1)
    print(f"explain (every score and match): {explain:,.0f} items/s")
    row("classify", ours, "items/s", ours / baseline)
    row("naive matcher (baseline)", baseline, "items/s", 1.0)

    spread = Counter(classifier.classify(i).region for i in items)
    print("regions:", ", ".join(f"{name} {spread[name]}" for name in classifier.regions))
    store_roundtrip(classifier, items)


if __name__ == "__main__":
    main()
