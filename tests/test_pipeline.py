"""The pipeline end to end, in process: poll over real HTTP, classify, store, draft, render.

Runs on SQLite and PostgreSQL (the `database_url` fixture). The feeds are fixture
files served on 127.0.0.1; the demo's sample feeds (dated relative to the clock)
feed the drafting tests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import pipeline
from bot.classify.classifier import Classifier
from bot.clock import FixedClock
from bot.config import Config, FeedConfig, Rule, load_config
from bot.context import Context, open_context
from bot.demo import sample_body
from bot.store import open_store
from bot.types import EditionState, FetchStatus
from tests.httpserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ETAG = '"v1"'


def config_with(feeds: dict[str, str]) -> Config:
    base = load_config(ROOT / "config" / "feeds.yaml")
    return base.model_copy(
        update={"feeds": tuple(FeedConfig(name=n, url=u) for n, u in feeds.items())}
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def served(feed_server: FeedServer) -> FeedServer:
    for name in ("rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup"):
        feed_server.file(f"/{name}.xml", FEEDS / f"{name}.xml", etag=ETAG)
    return feed_server


@pytest.fixture
def ctx(database_url: str, served: FeedServer, clock: FixedClock) -> Iterator[Context]:
    names = ("rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup")
    config = config_with({n: served.url(f"/{n}.xml") for n in names})
    with open_context(config, database_url=database_url, clock=clock) as context:
        yield context


def expected_keys() -> set[str]:
    keys: set[str] = set()
    for name in ("rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup"):
        data = json.loads((FEEDS / f"{name}.expected.json").read_text(encoding="utf-8"))
        keys |= {item["key"] for item in data["items"]}
    return keys


def test_poll_twice_stores_every_story_once_and_second_poll_is_conditional(
    ctx: Context, served: FeedServer, clock: FixedClock
) -> None:
    first = pipeline.poll(ctx)
    assert {f.status for f in first.feeds} == {FetchStatus.FETCHED}
    stored = ctx.store.list_items()
    keys = [s.key for s in stored]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected_keys()
    assert first.new == len(keys)

    clock.advance(timedelta(hours=1))  # every feed is due again
    second = pipeline.poll(ctx)
    assert {f.status for f in second.feeds} == {FetchStatus.NOT_MODIFIED}
    assert second.new == second.updated == 0
    for name in ("rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup"):
        assert served.not_modified(f"/{name}.xml") == 1
        assert served.requests(f"/{name}.xml")[-1].get("if-none-match") == ETAG
    assert sorted(s.key for s in ctx.store.list_items()) == sorted(keys)


def test_not_due_feeds_are_not_fetched(ctx: Context, served: FeedServer) -> None:
    pipeline.poll(ctx)
    again = pipeline.poll(ctx)  # same instant: nothing is due
    assert again.feeds == ()
    assert served.hits("/rss20.xml") == 1


def test_a_failing_feed_is_reported_and_the_others_are_stored(
    database_url: str, feed_server: FeedServer, clock: FixedClock
) -> None:
    feed_server.file("/seed.xml", FEEDS / "seed_roundup.xml")
    feed_server.status("/gone.xml", 410, "gone")
    feed_server.feed("/html.xml", "<html><body>not a feed</body></html>", content_type="text/html")
    config = config_with(
        {
            "seed": feed_server.url("/seed.xml"),
            "gone": feed_server.url("/gone.xml"),
            "html": feed_server.url("/html.xml"),
        }
    )
    with open_context(config, database_url=database_url, clock=clock) as ctx:
        report = pipeline.poll(ctx)
        by_name = {f.name: f for f in report.feeds}
        assert by_name["seed"].status is FetchStatus.FETCHED and by_name["seed"].new == 4
        assert by_name["gone"].status is FetchStatus.FAILED
        assert "410" in (by_name["gone"].error or "")
        assert by_name["html"].status is FetchStatus.FAILED
        assert report.failed == 2
        states = {s.name: s for s in ctx.store.feed_states()}
        assert states["gone"].consecutive_failures == 1
        assert states["gone"].next_due is not None and states["gone"].next_due > NOW
        assert len(ctx.store.list_items()) == 4


def test_the_same_story_in_two_feeds_is_stored_once(
    database_url: str, feed_server: FeedServer, clock: FixedClock
) -> None:
    feed_server.file("/a.xml", FEEDS / "seed_roundup.xml")
    feed_server.file("/b.xml", FEEDS / "seed_roundup.xml")
    config = config_with({"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")})
    with open_context(config, database_url=database_url, clock=clock) as ctx:
        report = pipeline.poll(ctx)
        assert report.new == 4
        assert len(ctx.store.list_items()) == 4


def test_a_shared_story_belongs_to_the_first_feed_in_the_config_even_when_it_answers_last(
    database_url: str, feed_server: FeedServer, clock: FixedClock
) -> None:
    # Stories are stored while the poll goes on, but in the config's order of feeds.
    feed_server.file("/slow.xml", FEEDS / "seed_roundup.xml", delay=1.0)
    feed_server.file("/fast.xml", FEEDS / "seed_roundup.xml")
    config = config_with(
        {"slow": feed_server.url("/slow.xml"), "fast": feed_server.url("/fast.xml")}
    )
    with open_context(config, database_url=database_url, clock=clock) as ctx:
        report = pipeline.poll(ctx)
        assert [(f.name, f.new) for f in report.feeds] == [("slow", 4), ("fast", 0)]
        assert {s.item.feed for s in ctx.store.list_items()} == {"slow"}


def test_seed_stories_land_in_the_sites_regions(ctx: Context) -> None:
    pipeline.poll(ctx, feed="seed_roundup")
    regions = {s.item.title.split(":")[0][:20]: s.region for s in ctx.store.list_items()}
    assert sorted(regions.values()) == ["Asia-Pacific", "Europe", "Middle East", "Middle East"]
    assert regions["Takaichi 101"] == "Asia-Pacific"
    assert regions["Idlib exposes limits"] == "Middle East"


def test_draft_and_render_the_demo_feeds(
    database_url: str, feed_server: FeedServer, clock: FixedClock
) -> None:
    for file in ("responsible-statecraft.xml", "middle-east.xml"):
        feed_server.feed(f"/{file}", sample_body(file, clock))
    config = config_with(
        {
            "responsible-statecraft": feed_server.url("/responsible-statecraft.xml"),
            "rs-middle-east": feed_server.url("/middle-east.xml"),
        }
    )
    with open_context(config, database_url=database_url, clock=clock) as ctx:
        pipeline.poll(ctx)
        edition = pipeline.draft(ctx)
        assert edition.key == "2026-W48"
        assert edition.state is EditionState.DRAFT
        titles = [ctx.store.get_item(e.item_key) for e in edition.entries]
        # The syndicated Iran story is in both feeds: it appears once.
        iran = [t for t in titles if t is not None and "Iran" in t.item.title]
        assert len(iran) == 1
        # The story published weeks ago is outside the first edition's 7 days.
        assert all(t is not None and "old story" not in t.item.title for t in titles)
        rendered = pipeline.render(ctx, edition)
        assert "Keep reading" in rendered.html
        assert "Middle East" in rendered.text


@pytest.mark.parametrize("workers", [1, 2])
def test_stories_classified_where_they_were_parsed_are_stored_as_classified_here(
    database_url: str,
    served: FeedServer,
    clock: FixedClock,
    workers: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    names = ("rss20", "atom10", "rss10_rdf", "media_rich", "seed_roundup")
    config = config_with({n: served.url(f"/{n}.xml") for n in names})
    # A keyword lint warns about: the rules are linted (and logged) once per poll,
    # though the parse workers compiled them.
    regions = list(config.regions)
    rules = (*regions[0].rules, Rule(keywords=("!!!",)))
    regions[0] = regions[0].model_copy(update={"rules": rules})
    config = config.model_copy(
        update={
            "regions": tuple(regions),
            "fetch": config.fetch.model_copy(update={"parse_workers": workers}),
        }
    )
    with (
        caplog.at_level(logging.WARNING, logger="bot.context"),
        open_context(config, database_url=database_url, clock=clock) as ctx,
    ):
        report = pipeline.poll(ctx)
        assert report.new == len(expected_keys())
        stored = ctx.store.list_items()
        classifier = Classifier.from_config(config)
        for s in stored:
            assert ctx.store.get_classification(s.key) == classifier.classify(s.item), s.key
    assert len([m for m in caplog.messages if "has no letter or digit" in m]) == 1


def test_a_slow_first_feed_holds_back_at_most_max_waiting_feeds_stories(
    database_url: str, feed_server: FeedServer, clock: FixedClock
) -> None:
    # Stories wait for an earlier feed only up to a bound: memory does not grow with
    # the number of feeds behind one that is slow (or hangs until its deadline).
    behind = pipeline._StoreInOrder.MAX_WAITING + 6

    def body(n: int) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
            f"<item><title>Story {n}</title><link>https://e.org/{n}</link>"
            f"<guid>story-{n}</guid></item></channel></rss>"
        ).encode()

    # The slow feed answers once a story of the feeds behind it is stored (or after
    # MAX_HOLD, and then the test fails): however loaded the machine, the store has
    # had its chance to write them while the slow one waits.
    stored = threading.Event()
    feed_server.feed("/slow.xml", body(0), until=stored)
    for n in range(1, behind + 1):
        feed_server.feed(f"/f{n}.xml", body(n))
    feeds = {"slow": feed_server.url("/slow.xml")}
    feeds |= {f"f{n}": feed_server.url(f"/f{n}.xml") for n in range(1, behind + 1)}
    config = config_with(feeds)
    # The feeds behind come one at a time, in order (one request beside the slow
    # feed's, one parser): the order they are stored in is then the bound's alone.
    # With more at a time, a feed parsed late may come after the bound has passed
    # it over, and is stored after later feeds, as the bound allows.
    fetch = config.fetch.model_copy(update={"per_host": 2, "parse_workers": 1})
    config = config.model_copy(update={"fetch": fetch})
    with open_context(config, database_url=database_url, clock=clock) as ctx:

        def watch() -> None:  # through a store of its own, as another process reads
            reader = open_store(database_url)
            try:
                while not stored.is_set():
                    if reader.list_items(limit=1):
                        stored.set()
                    time.sleep(0.05)
            finally:
                reader.close()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            report = pipeline.poll(ctx)
        finally:
            stored.set()
            watcher.join()
        assert report.new == behind + 1 and report.failed == 0
        order = [s.item.feed for s in ctx.store.iter_items()]
    assert sorted(order) == sorted(feeds)  # every story, once
    # The slow feed's story was not first: feeds behind it were stored meanwhile...
    assert order.index("slow") > 0
    # ...in the config's order, as far as the bound allowed.
    fast = [name for name in order if name != "slow"]
    assert fast == [f"f{n}" for n in range(1, behind + 1)]
