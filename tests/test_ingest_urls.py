"""Every URL a poll stores is a clean http(s) URL: feeds and redirects over real HTTP.

The story link, the lead image and a feed's new address after a permanent redirect
pass `clean_url`; what fails is dropped and counted in the feed's warnings.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.config import FetchConfig
from bot.ingest import FeedOutcome, poll_feeds
from bot.types import FeedState, FetchStatus
from tests.httpserver import FeedServer

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = FetchConfig(
    connect_timeout=timedelta(seconds=2),
    read_timeout=timedelta(seconds=2),
    total_timeout=timedelta(seconds=5),
)
SCRIPT = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def _poll(server: FeedServer, path: str) -> FeedOutcome:
    url = server.url(path)
    state = FeedState(name="f", url=url, config_url=url)
    (outcome,) = asyncio.run(poll_feeds([state], SETTINGS, NOW))
    return outcome


def _feed(*items: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>T</title>" + "".join(items) + "</channel></rss>"
    )


def _item(n: int, link: str, extra: str = "") -> str:
    return (
        f"<item><title>Story {n}</title><link>{link}</link><guid>s{n}</guid>"
        f"<description>Text {n}.</description>{extra}</item>"
    )


def test_markup_in_an_image_url_is_dropped_and_counted(feed_server: FeedServer) -> None:
    feed_server.feed(
        "/feed.xml",
        _feed(
            _item(
                1, "https://news.example.org/1", f'<media:content url="{SCRIPT}" medium="image"/>'
            ),
            _item(
                2,
                "https://news.example.org/2",
                f'<media:content url="https://cdn.example.org/x.jpg{SCRIPT}" medium="image"/>',
            ),
            _item(
                3, "https://news.example.org/3", '<enclosure url="/img/a b.jpg" type="image/jpeg"/>'
            ),
            _item(4, "https://news.example.org/4", '<media:content url="/img/caf\u00e9.jpg"/>'),
        ),
    )
    outcome = _poll(feed_server, "/feed.xml")
    assert outcome.status is FetchStatus.FETCHED
    images = [item.image_url for item in outcome.items]
    assert images == [None, None, None, "https://news.example.org/img/caf%C3%A9.jpg"]
    dropped = [w for w in outcome.warnings if "image dropped" in w]
    assert len(dropped) == 3, outcome.warnings
    assert dropped[0].startswith('entry 1: image dropped (contains the character ")')
    assert "whitespace" in dropped[2]


def test_a_refused_image_falls_back_to_the_content_image(feed_server: FeedServer) -> None:
    content = "&lt;p&gt;&lt;img src=&quot;https://cdn.example.org/ok.png&quot;&gt;&lt;/p&gt;"
    feed_server.feed(
        "/feed.xml",
        _feed(
            "<item><title>S</title><link>https://news.example.org/s</link>"
            f'<description>{content}</description><media:content url="{SCRIPT}" medium="image"/>'
            "</item>"
        ),
    )
    outcome = _poll(feed_server, "/feed.xml")
    assert outcome.items[0].image_url == "https://cdn.example.org/ok.png"
    assert not any("dropped" in w for w in outcome.warnings)


def test_a_story_link_that_is_not_a_url_is_dropped_and_counted(feed_server: FeedServer) -> None:
    feed_server.feed(
        "/feed.xml",
        _feed(
            _item(1, "https://news.example.org/a story"),
            _item(2, "javascript:alert(1)"),
            _item(3, f"https://news.example.org/{SCRIPT}"),
            _item(4, "https://news.example.org/%7efine?q=%e2%82%ac"),
        ),
    )
    outcome = _poll(feed_server, "/feed.xml")
    assert [item.url for item in outcome.items] == [
        "",
        "",
        "",
        "https://news.example.org/~fine?q=%E2%82%AC",
    ]
    assert [item.title for item in outcome.items] == [f"Story {n}" for n in range(1, 5)]
    dropped = [w for w in outcome.warnings if "story link dropped" in w]
    assert [w.split(":")[0] for w in dropped] == ["entry 1", "entry 2", "entry 3"]


def test_a_permanent_redirect_to_markup_does_not_move_the_feed(feed_server: FeedServer) -> None:
    feed_server.feed("/new%22%3E%3Cb%3E", _feed(_item(1, "https://news.example.org/1")))
    feed_server.redirect("/old", '/new"><b>', 301)
    outcome = _poll(feed_server, "/old")
    assert outcome.status is FetchStatus.FETCHED and len(outcome.items) == 1
    assert outcome.state.url == feed_server.url("/old")
    assert any(w.startswith("permanent redirect dropped") for w in outcome.warnings)


def test_a_permanent_redirect_is_stored_canonically_encoded(feed_server: FeedServer) -> None:
    feed_server.feed("/caf%c3%a9/%7efeed", _feed(_item(1, "https://news.example.org/1")))
    feed_server.redirect("/old", "/caf%c3%a9/%7efeed", 308)
    outcome = _poll(feed_server, "/old")
    assert outcome.status is FetchStatus.FETCHED
    assert outcome.state.url == feed_server.url("/caf%C3%A9/~feed")
    assert outcome.warnings == ()
