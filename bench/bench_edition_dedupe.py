"""How fast an edition draft finds syndicated copies, against the naive way.

`bot.edition.dedupe` compares titles only inside a sliding window by length and
stops most pairs at difflib's cheap upper bounds. The naive way computes the full
ratio of every pair. Both run on the same synthetic week of stories (one in ten
a reposted copy); the script checks they find the same copies and prints the
times and the speed-up. Run: `.venv/bin/python bench/bench_edition_dedupe.py`.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher

from bot.edition.dedupe import dedupe, normalise_title
from bot.edition.drafting import MAX_WINDOW_STORIES
from bot.types import Item, StoredItem

_VOCABULARY = """
iran israel gaza ukraine russia china taiwan nato sanctions talks ceasefire war
diplomacy congress pentagon budget drones oil gulf saudi yemen sudan europe asia
pacific strategy deterrence election summit treaty nuclear trade tariffs envoy
withdrawal troops alliance restraint policy crisis peace deal hawks doves
"""
WORDS = _VOCABULARY.split()
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def week(n: int, seed: int = 7) -> list[StoredItem]:
    rng = random.Random(seed)
    stories: list[StoredItem] = []
    for i in range(n):
        if i % 10 == 9:  # a repost of an earlier story, cased and punctuated differently
            title = stories[rng.randrange(i - 1)].item.title.upper() + "!"
        else:
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        item = Item(
            key=f"k{i}",
            feed="bench",
            url=f"https://example.org/{i}",
            canonical_url=f"https://example.org/{i}",
            title=title,
            published=T0 + timedelta(minutes=i),
        )
        stories.append(StoredItem(item=item, region="Europe", first_seen=item.published))
    return stories


def naive(stories: list[StoredItem]) -> set[str]:
    titles = [normalise_title(s.item.title) for s in stories]
    copies = set()
    for i in range(len(titles)):
        for j in range(i):
            if SequenceMatcher(None, titles[j], titles[i], autojunk=False).ratio() >= 0.9:
                copies.add(stories[i].key)
                break
    return copies


def timed_dedupe(stories: list[StoredItem]) -> tuple[set[str], float]:
    """The keys dedupe drops as copies, and the seconds it took."""
    start = time.perf_counter()
    kept = dedupe(stories)
    seconds = time.perf_counter() - start
    return {s.key for s in stories} - {s.key for s in kept}, seconds


def timed_naive(stories: list[StoredItem]) -> tuple[set[str], float]:
    start = time.perf_counter()
    copies = naive(stories)
    return copies, time.perf_counter() - start


SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def main() -> None:
    for n in (20,) if SMOKE else (100, 200, 400):
        stories = week(n)
        fast_copies, fast = timed_dedupe(stories)
        slow_copies, slow = timed_naive(stories)
        agree = "same copies" if fast_copies == slow_copies else "DIFFERENT copies"
        print(
            f"{n:5d} stories: dedupe {fast * 1000:8.1f} ms, naive {slow * 1000:9.1f} ms, "
            f"speed-up {slow / fast:6.1f}x, {len(fast_copies)} copies found ({agree})"
        )
        print(
            f"BENCH\tedition dedupe\t{n} stories: dedupe\t{fast * 1000:.3g}\tms\t{slow / fast:.1f}x"
        )
    if SMOKE:
        return
    # The draft's bound on a week's stories (MAX_WINDOW_STORIES); naive would take ~30 s.
    copies, fast = timed_dedupe(week(MAX_WINDOW_STORIES))
    print(
        f"{MAX_WINDOW_STORIES:5d} stories: dedupe {fast * 1000:8.1f} ms, "
        f"{len(copies)} copies found (the draft's cap)"
    )


if __name__ == "__main__":
    main()
