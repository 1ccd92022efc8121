"""poll_feeds over real HTTP on 127.0.0.1: conditional GET, redirects, failures, limits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from bot.config import FetchConfig
from bot.errors import FetchError
from bot.ingest import FeedOutcome, default_user_agent, poll_feeds
from bot.ingest.fetch import Proxies
from bot.ingest.outcome import Timing
from bot.ingest.poll import poll_one
from bot.types import FeedState, FetchStatus
from tests.httpserver import FeedServer

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = FetchConfig(
    concurrency=4,
    connect_timeout=timedelta(seconds=2),
    read_timeout=timedelta(seconds=2),
    total_timeout=timedelta(seconds=5),
    max_body_bytes=10_000_000,
    max_redirects=5,
    poll_interval=timedelta(minutes=30),
    backoff_base=timedelta(minutes=5),
    backoff_max=timedelta(hours=24),
)
LAST_MODIFIED = "Tue, 24 Nov 2026 10:00:00 GMT"


def _state(server: FeedServer, path: str, name: str | None = None) -> FeedState:
    url = server.url(path) if path.startswith("/") else path
    return FeedState(name=name or path.strip("/") or "root", url=url, config_url=url)


def _poll(
    states: list[FeedState],
    settings: FetchConfig = SETTINGS,
    *,
    intervals: dict[str, timedelta] | None = None,
    on_done: Callable[[FeedOutcome], None] | None = None,
    user_agent: str | None = None,
) -> list[FeedOutcome]:
    return asyncio.run(
        poll_feeds(
            states, settings, NOW, intervals=intervals, on_done=on_done, user_agent=user_agent
        )
    )


def _poll_one(state: FeedState, settings: FetchConfig = SETTINGS) -> FeedOutcome:
    (outcome,) = _poll([state], settings)
    return outcome


def _item_xml(n: int, title: str) -> str:
    return (
        f"<item><title>{title}</title><link>https://news.example.org/{n}</link>"
        f"<guid isPermaLink='false'>story-{n}</guid><description>Story {n}.</description></item>"
    )


def _feed(*items: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test feed</title>'
        + "".join(items)
        + "</channel></rss>"
    )


SEED = (FEEDS / "seed_roundup.xml").read_bytes()


# --- success, conditional requests, unchanged bodies -------------------------------


def test_fetches_parses_and_sends_a_real_user_agent(feed_server: FeedServer) -> None:
    feed_server.feed("/feed", SEED, etag='"v1"', last_modified=LAST_MODIFIED)
    outcome = _poll_one(_state(feed_server, "/feed"))
    assert outcome.status is FetchStatus.FETCHED
    assert outcome.http_status == 200
    assert len(outcome.items) == 4
    assert outcome.state.title == "Responsible Statecraft"
    assert (outcome.state.etag, outcome.state.last_modified) == ('"v1"', LAST_MODIFIED)
    assert outcome.state.body_hash is not None and len(outcome.state.body_hash) == 64
    assert outcome.state.next_due == NOW + timedelta(minutes=30)
    (request,) = feed_server.requests("/feed")
    assert request["user-agent"] == "roundup/0.1.0" == default_user_agent()
    assert "if-none-match" not in request  # nothing to be conditional about yet


def test_user_agent_names_the_site_when_given(feed_server: FeedServer) -> None:
    feed_server.feed("/feed", SEED)
    agent = default_user_agent("https://responsiblestatecraft.org")
    _poll([_state(feed_server, "/feed")], user_agent=agent)
    assert feed_server.requests("/feed")[0]["user-agent"] == (
        "roundup/0.1.0 (+https://responsiblestatecraft.org)"
    )


def test_second_poll_is_conditional_and_parses_nothing(feed_server: FeedServer) -> None:
    feed_server.feed("/a", SEED, etag='"a1"')
    feed_server.feed("/b", SEED, last_modified=LAST_MODIFIED)
    first = _poll([_state(feed_server, "/a"), _state(feed_server, "/b")])
    second = _poll([o.state for o in first])
    assert [o.status for o in second] == [FetchStatus.NOT_MODIFIED] * 2
    assert [o.http_status for o in second] == [304, 304]
    assert all(o.items == () for o in second)
    assert feed_server.requests("/a")[1]["if-none-match"] == '"a1"'
    assert feed_server.requests("/b")[1]["if-modified-since"] == LAST_MODIFIED
    assert (feed_server.not_modified("/a"), feed_server.not_modified("/b")) == (1, 1)
    # The validators survive a 304 that repeats them or not.
    assert second[0].state.etag == '"a1"' and second[1].state.last_modified == LAST_MODIFIED
    assert second[0].state.body_hash == first[0].state.body_hash


def test_same_body_without_validators_is_not_modified_by_hash(feed_server: FeedServer) -> None:
    feed_server.feed("/plain", SEED)  # no ETag, no Last-Modified
    first = _poll_one(_state(feed_server, "/plain"))
    second = _poll_one(first.state)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.http_status == 200  # the body came, and was the same
    assert second.items == ()
    assert feed_server.hits("/plain") == 2 and feed_server.not_modified("/plain") == 0
    assert second.state.next_due == NOW + timedelta(minutes=30)


def test_changed_feed_is_fetched_again_with_its_updates(feed_server: FeedServer) -> None:
    feed_server.feed("/live", _feed(_item_xml(1, "First take")), etag='"1"')
    first = _poll_one(_state(feed_server, "/live"))
    feed_server.feed(
        "/live", _feed(_item_xml(2, "Breaking"), _item_xml(1, "First take, updated")), etag='"2"'
    )
    second = _poll_one(first.state)
    assert second.status is FetchStatus.FETCHED
    assert {i.key: i.title for i in second.items} == {
        "story-2": "Breaking",
        "story-1": "First take, updated",
    }
    assert second.state.etag == '"2"'
    assert feed_server.requests("/live")[1]["if-none-match"] == '"1"'


def test_gzip_bodies_are_decoded(feed_server: FeedServer) -> None:
    feed_server.feed("/gz", SEED, gzip=True)
    outcome = _poll_one(_state(feed_server, "/gz"))
    assert outcome.status is FetchStatus.FETCHED and len(outcome.items) == 4
    assert feed_server.requests("/gz")[0]["accept-encoding"] == "gzip, deflate"


def test_relative_links_resolve_against_the_url_that_answered(feed_server: FeedServer) -> None:
    feed_server.feed(
        "/section/feed.xml",
        _feed("<item><title>Rel</title><link>story.html</link></item>"),
    )
    outcome = _poll_one(_state(feed_server, "/section/feed.xml"))
    assert outcome.items[0].url == feed_server.url("/section/story.html")


# --- redirects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "moves"), [(301, True), (308, True), (302, False), (303, False), (307, False)]
)
def test_only_permanent_redirects_move_the_feed(
    feed_server: FeedServer, status: int, moves: bool
) -> None:
    feed_server.feed("/new", SEED)
    feed_server.redirect("/old", "/new", status)
    outcome = _poll_one(_state(feed_server, "/old"))
    assert outcome.status is FetchStatus.FETCHED and len(outcome.items) == 4
    assert outcome.state.url == feed_server.url("/new" if moves else "/old")
    assert outcome.state.config_url == feed_server.url("/old")


def test_a_temporary_hop_stops_the_move_where_it_starts(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b", 301)
    feed_server.redirect("/b", "/c", 302)
    feed_server.redirect("/c", "/d", 301)
    feed_server.feed("/d", SEED)
    outcome = _poll_one(_state(feed_server, "/a"))
    assert outcome.status is FetchStatus.FETCHED
    assert outcome.state.url == feed_server.url("/b")


def test_permanent_redirect_to_a_failing_url_keeps_the_old_url(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/gone", 301)
    feed_server.status("/gone", 500)
    outcome = _poll_one(_state(feed_server, "/old"))
    assert outcome.status is FetchStatus.FAILED
    assert outcome.state.url == feed_server.url("/old")


def test_five_redirects_are_followed_six_are_too_many(feed_server: FeedServer) -> None:
    for i in range(6):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}", 302)
    feed_server.feed("/r6", SEED)
    assert _poll_one(_state(feed_server, "/r1")).status is FetchStatus.FETCHED  # 5 hops
    outcome = _poll_one(_state(feed_server, "/r0"))  # 6 hops
    assert outcome.status is FetchStatus.FAILED
    assert outcome.error == f"more than 5 redirects (the last to {feed_server.url('/r6')})"


def test_redirect_loop_fails_after_the_limit(feed_server: FeedServer) -> None:
    feed_server.redirect("/ping", "/pong", 301)
    feed_server.redirect("/pong", "/ping", 301)
    outcome = _poll_one(_state(feed_server, "/ping"))
    assert outcome.status is FetchStatus.FAILED
    assert outcome.error is not None and outcome.error.startswith("more than 5 redirects")
    assert feed_server.hits("/ping") + feed_server.hits("/pong") == 6
    assert outcome.state.url == feed_server.url("/ping")


def test_redirect_to_a_file_url_is_refused(feed_server: FeedServer) -> None:
    feed_server.redirect("/sneaky", "file:///etc/passwd", 302)
    outcome = _poll_one(_state(feed_server, "/sneaky"))
    origin = feed_server.url("/sneaky")
    assert (
        outcome.error == f"redirect to a non-HTTP URL refused: file:///etc/passwd (from {origin})"
    )


# --- failures ---------------------------------------------------------------------------


def test_failures_have_clear_messages(feed_server: FeedServer) -> None:
    feed_server.status("/missing", 404, "nothing here")
    feed_server.status("/broken", 500)
    feed_server.status("/gone", 410)
    feed_server.status("/teapot", 418)
    feed_server.feed(
        "/page", "<!DOCTYPE html><html><body>Hi</body></html>", content_type="text/html"
    )
    feed_server.redirect("/nowhere", "", 302)
    names = ["/missing", "/broken", "/gone", "/teapot", "/page", "/nowhere"]
    outcomes = _poll([_state(feed_server, n) for n in names] + [_refused()])
    errors = [o.error for o in outcomes]
    url = feed_server.url
    assert errors == [
        f"HTTP 404 Not Found from {url('/missing')}",
        f"HTTP 500 Internal Server Error from {url('/broken')}",
        f"HTTP 410 Gone from {url('/gone')} "
        "(the feed is gone: remove it from the config or give its new URL)",
        f"HTTP 418 I'm a Teapot from {url('/teapot')}",
        "not a feed: the body is HTML (text/html)",
        f"HTTP 302 Found without a Location header from {url('/nowhere')}",
        f"cannot connect to 127.0.0.1:{_closed_port()}: connection refused",
    ]
    assert [o.http_status for o in outcomes] == [404, 500, 410, 418, 200, None, None]
    for outcome in outcomes:
        assert outcome.status is FetchStatus.FAILED
        assert outcome.state.consecutive_failures == 1
        assert outcome.state.last_error == outcome.error
        assert outcome.state.next_due == NOW + timedelta(minutes=5)
        assert outcome.items == ()


_PORT: list[int] = []


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    if not _PORT:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            _PORT.append(sock.getsockname()[1])
    return _PORT[0]


def _refused() -> FeedState:
    url = f"http://127.0.0.1:{_closed_port()}/feed"
    return FeedState(name="refused", url=url, config_url=url)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://[::1/feed", "not a valid URL: http://[::1/feed (Invalid IPv6 URL)"),
        (
            "http://127.0.0.1:99999/feed",
            "not a valid URL: http://127.0.0.1:99999/feed (Port out of range 0-65535)",
        ),
        ("ftp://127.0.0.1/feed", "not an http(s) URL: ftp://127.0.0.1/feed"),
        ("http:///feed", "not an http(s) URL: http:///feed"),
    ],
)
def test_bad_urls_fail_clearly(url: str, error: str) -> None:
    outcome = _poll_one(FeedState(name="bad", url=url, config_url=url))
    assert outcome.status is FetchStatus.FAILED
    assert outcome.error == error


def test_a_server_that_closes_without_answering_fails_in_one_line(
    feed_server: FeedServer,
) -> None:
    feed_server.hang("/mute", seconds=0)  # reads the request, then closes
    outcome = _poll_one(_state(feed_server, "/mute"))
    host = feed_server.base_url.removeprefix("http://")
    assert outcome.error == (
        f"the connection to {host} failed: server disconnected without sending a response."
    )


def test_failures_back_off_exponentially_and_recover(feed_server: FeedServer) -> None:
    feed_server.status("/flaky", 503)
    state = _state(feed_server, "/flaky")
    delays = []
    for _ in range(4):
        outcome = _poll_one(state)
        state = outcome.state
        assert state.next_due is not None
        delays.append(state.next_due - NOW)
    assert delays == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert state.consecutive_failures == 4
    feed_server.feed("/flaky", SEED)
    recovered = _poll_one(state)
    assert recovered.status is FetchStatus.FETCHED
    assert (recovered.state.consecutive_failures, recovered.state.last_error) == (0, None)


def test_retry_after_from_a_busy_server_is_honoured(feed_server: FeedServer) -> None:
    feed_server.feed(
        "/busy", "slow down", status=429, content_type="text/plain", headers={"Retry-After": "7200"}
    )
    outcome = _poll_one(_state(feed_server, "/busy"))
    assert outcome.status is FetchStatus.FAILED
    assert outcome.error is not None and "429" in outcome.error
    assert outcome.state.next_due == NOW + timedelta(hours=2)


@pytest.mark.parametrize(("bodies", "finished"), [(1, ["slow", "quick"]), (2, ["quick", "slow"])])
def test_bodies_in_flight_bound_the_bodies_read_and_parsed_at_once(
    feed_server: FeedServer, bodies: int, finished: list[str]
) -> None:
    # "slow" streams its body over about a second (40 bytes of a feed: only how long
    # it takes to read matters here); "quick" answers 0.3 s later, at once. With one
    # body slot, quick's body waits until slow's is read and parsed.
    feed_server.drip("/slow", _feed(_item_xml(1, "Slow")).encode()[:40], every=0.025)
    feed_server.feed("/quick", _feed(_item_xml(2, "Quick")), delay=0.3)
    seen: list[str] = []
    settings = replace_settings(concurrency=2, per_host=2, bodies_in_flight=bodies)
    _poll(
        [_state(feed_server, "/slow"), _state(feed_server, "/quick")],
        settings,
        on_done=lambda o: seen.append(o.name),
    )
    assert seen == finished


def test_waiting_for_a_body_slot_does_not_count_against_the_feed_deadline(
    feed_server: FeedServer,
) -> None:
    # The deadline bounds the network: a feed whose body waits 1.5 s for a slot
    # (other feeds' bodies being parsed) is read whole under a 1 s deadline.
    feed_server.feed("/feed", SEED)
    settings = replace_settings(total_timeout=timedelta(seconds=1))
    timing = Timing(settings.poll_interval, settings.backoff_base, settings.backoff_max)

    async def run() -> tuple[FeedOutcome, bool]:
        slots = asyncio.Semaphore(1)
        await slots.acquire()  # the one slot is taken...
        asyncio.get_running_loop().call_later(1.5, slots.release)  # ...for 1.5 s
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            state = _state(feed_server, "/feed")
            outcome = await poll_one(session, state, settings, NOW, timing, bodies=slots)
        return outcome, slots.locked()

    outcome, still_held = asyncio.run(run())
    assert (outcome.status, outcome.error, len(outcome.items)) == (FetchStatus.FETCHED, None, 4)
    assert not still_held  # the slot was given back after the parse


def test_unchanged_feeds_of_one_host_share_one_connection(feed_server: FeedServer) -> None:
    for i in range(3):
        feed_server.feed(f"/same{i}", SEED, etag=f'"s{i}"')
    states = [_state(feed_server, f"/same{i}") for i in range(3)]
    one_at_a_time = replace_settings(concurrency=1, per_host=1)
    first = _poll(states, one_at_a_time)
    feed_server.reset_counts()
    again = _poll([o.state for o in first], one_at_a_time)
    assert [o.status for o in again] == [FetchStatus.NOT_MODIFIED] * 3
    # Each 304 is read to its end, so the connection goes back to the pool.
    assert feed_server.connections == 1


def test_a_url_reaches_the_server_byte_for_byte(feed_server: FeedServer) -> None:
    # Escapes in either case, an escaped slash, a stray "%" and "+" are all the
    # server's to read: an HTTP client that re-quotes a URL changes some of them.
    path = "/a%2fb/%7E~x;y=1"
    query = "?q=%41&r=a+b&s=%zz&t=%e2%82%ac"
    feed_server.feed(path, SEED)
    outcome = _poll_one(_state(feed_server, path + query))
    assert outcome.status is FetchStatus.FETCHED
    assert feed_server.hits(path + query) == 1


def test_what_a_location_cannot_carry_is_escaped(feed_server: FeedServer) -> None:
    # A space and UTF-8 (sent raw, as some servers do) in a Location header go out
    # percent-encoded, as browsers send them; the escape already there stays.
    feed_server.redirect("/odd", "/a b/caf\xc3\xa9?q=1 2&r=%41", 302)
    feed_server.feed("/a%20b/caf%C3%A9", SEED)
    outcome = _poll_one(_state(feed_server, "/odd"))
    assert outcome.status is FetchStatus.FETCHED
    assert feed_server.hits("/a%20b/caf%C3%A9?q=1%202&r=%41") == 1


def test_the_proxy_of_the_environment_is_used(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server stands in for the proxy: it sees the absolute URL.
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", feed_server.base_url)
    url = "http://feeds.example/feed"
    feed_server.feed(url, SEED)
    outcome = _poll_one(FeedState(name="proxied", url=url, config_url=url))
    assert outcome.status is FetchStatus.FETCHED
    assert feed_server.hits(url) == 1


def test_no_proxy_hosts_are_fetched_directly(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    feed_server.feed("/direct", SEED)
    outcome = _poll_one(_state(feed_server, "/direct"))
    assert outcome.status is FetchStatus.FETCHED
    assert feed_server.hits("/direct") == 1


def test_a_proxy_password_goes_to_the_proxy_and_netrc_is_not_read(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine feeds.example login feeds password leaked\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", feed_server.base_url.replace("://", "://ops:s3cret@"))
    url = "http://feeds.example/feed"
    feed_server.feed(url, SEED)
    outcome = _poll_one(FeedState(name="proxied", url=url, config_url=url))
    assert outcome.status is FetchStatus.FETCHED
    [headers] = feed_server.requests(url)
    sent = {k.lower(): v for k, v in headers.items()}
    assert sent["proxy-authorization"] == "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert "authorization" not in sent


def test_a_feed_s_password_goes_in_its_url(feed_server: FeedServer) -> None:
    feed_server.feed("/private", SEED)
    url = feed_server.url("/private").replace("://", "://reader:pa%20ss@")
    outcome = _poll_one(FeedState(name="private", url=url, config_url=url))
    assert outcome.status is FetchStatus.FETCHED
    [headers] = feed_server.requests("/private")
    sent = {k.lower(): v for k, v in headers.items()}
    assert sent["authorization"] == "Basic " + base64.b64encode(b"reader:pa ss").decode()


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({}, "http://a.example/f", (None, None)),
        ({"http": "http://proxy:3128"}, "http://a.example/f", ("http://proxy:3128", None)),
        ({"http": "http://proxy:3128"}, "https://a.example/f", (None, None)),
        ({"https": "proxy:3128"}, "https://a.example/f", ("http://proxy:3128", None)),
        (
            {"http": "http://ops:p%40ss@proxy:3128"},
            "http://a.example/f",
            ("http://proxy:3128", "Basic " + base64.b64encode(b"ops:p@ss").decode()),
        ),
        ({"http": "http://proxy:3128", "no": "a.example"}, "http://a.example/f", (None, None)),
        ({"http": "http://proxy:3128", "no": "example"}, "http://www.example/f", (None, None)),
        ({"http": "http://proxy:3128", "no": "*"}, "http://b.example/f", (None, None)),
        (
            {"http": "http://proxy:3128", "no": "a.example"},
            "http://b.example/f",
            ("http://proxy:3128", None),
        ),
    ],
)
def test_proxies_follow_the_environment_s_rules(
    environment: dict[str, str], url: str, expected: tuple[str | None, str | None]
) -> None:
    proxy, credentials = Proxies(environment).for_url(URL(url))
    assert (None if proxy is None else str(proxy), credentials) == expected


def test_a_proxy_that_is_no_url_fails_the_feed_in_one_line() -> None:
    with pytest.raises(FetchError, match=r"^the proxy for http URLs is not a valid URL \("):
        Proxies({"http": "http://[::1"}).for_url(URL("http://a.example/f"))


def test_without_keep_items_the_outcomes_returned_hold_no_items(feed_server: FeedServer) -> None:
    feed_server.feed("/seed", SEED)
    feed_server.status("/bad", 500)
    seen: dict[str, int] = {}
    outcomes = asyncio.run(
        poll_feeds(
            [_state(feed_server, p) for p in ("/seed", "/bad")],
            SETTINGS,
            NOW,
            on_done=lambda o: seen.update({o.name: len(o.items)}),
            keep_items=False,
        )
    )
    assert seen == {"seed": 4, "bad": 0}  # on_done had every item...
    assert [(o.name, o.status, o.items) for o in outcomes] == [
        ("seed", FetchStatus.FETCHED, ()),  # ...and the result holds none
        ("bad", FetchStatus.FAILED, ()),
    ]
    assert outcomes[0].state.body_hash is not None


def test_one_failing_feed_does_not_stop_the_others(feed_server: FeedServer) -> None:
    feed_server.feed("/good1", SEED)
    feed_server.status("/bad", 500)
    feed_server.feed("/junk", b"\x00\xff garbage", content_type="application/octet-stream")
    feed_server.feed("/good2", _feed(_item_xml(7, "Seven")))
    seen: list[str] = []
    outcomes = _poll(
        [_state(feed_server, p) for p in ("/good1", "/bad", "/junk", "/good2")],
        on_done=lambda o: seen.append(o.name),
    )
    assert [o.name for o in outcomes] == ["good1", "bad", "junk", "good2"]  # order kept
    assert sorted(seen) == sorted(o.name for o in outcomes)  # each reported once
    assert [o.status for o in outcomes] == [
        FetchStatus.FETCHED,
        FetchStatus.FAILED,
        FetchStatus.FAILED,
        FetchStatus.FETCHED,
    ]
    assert (
        outcomes[2].error
        == "not a feed: no RSS, Atom or RDF document found (application/octet-stream)"
    )


def test_intervals_per_feed(feed_server: FeedServer) -> None:
    feed_server.feed("/hourly", SEED)
    (outcome,) = _poll([_state(feed_server, "/hourly")], intervals={"hourly": timedelta(hours=1)})
    assert outcome.state.next_due == NOW + timedelta(hours=1)


def test_concurrency_is_bounded(feed_server: FeedServer) -> None:
    for i in range(8):
        feed_server.feed(f"/slow{i}", _feed(_item_xml(i, "slow")), delay=0.3)
    settings = replace_settings(concurrency=3)
    outcomes = _poll([_state(feed_server, f"/slow{i}") for i in range(8)], settings)
    assert all(o.status is FetchStatus.FETCHED for o in outcomes)
    assert 2 <= feed_server.max_in_flight <= 3


def test_one_host_sees_at_most_per_host_requests_by_default(feed_server: FeedServer) -> None:
    for i in range(10):
        feed_server.feed(f"/busy{i}", _feed(_item_xml(i, "busy")), delay=0.3)
    settings = FetchConfig()  # the shipped defaults: 128 at a time, 4 per host
    assert (settings.concurrency, settings.per_host, settings.bodies_in_flight) == (128, 4, 32)
    outcomes = _poll([_state(feed_server, f"/busy{i}") for i in range(10)], settings)
    assert all(o.status is FetchStatus.FETCHED for o in outcomes)
    assert feed_server.max_in_flight == 4


def test_the_per_host_limit_counts_each_host_alone(feed_server: FeedServer) -> None:
    with FeedServer(host="127.0.0.2") as other:
        states = []
        for server, tag in ((feed_server, "a"), (other, "b")):
            for i in range(6):
                server.feed(f"/{tag}{i}", _feed(_item_xml(i, tag)), delay=0.3)
                states.append(_state(server, f"/{tag}{i}", name=f"{tag}{i}"))
        outcomes = _poll(states, replace_settings(concurrency=8, per_host=2))
        assert all(o.status is FetchStatus.FETCHED for o in outcomes)
        assert (feed_server.max_in_flight, other.max_in_flight) == (2, 2)


def test_empty_poll_is_empty() -> None:
    assert _poll([]) == []


# --- slow, endless and hostile servers ---------------------------------------------------


def replace_settings(**changes: object) -> FetchConfig:
    return SETTINGS.model_copy(update=changes)


def test_a_server_that_hangs_hits_the_read_timeout(feed_server: FeedServer) -> None:
    feed_server.hang("/hang", seconds=3)
    settings = replace_settings(read_timeout=timedelta(seconds=0.5))
    outcome = _poll_one(_state(feed_server, "/hang"), settings)
    host = feed_server.base_url.removeprefix("http://")
    assert (
        outcome.error
        == f"{host} stopped sending data (read timeout) for {feed_server.url('/hang')}"
    )


def test_a_dripping_body_hits_the_per_feed_deadline(feed_server: FeedServer) -> None:
    feed_server.drip("/drip", SEED, every=0.1)  # never silent long enough for a read timeout
    settings = replace_settings(
        read_timeout=timedelta(seconds=1), total_timeout=timedelta(seconds=1)
    )
    outcome = _poll_one(_state(feed_server, "/drip"), settings)
    host = feed_server.base_url.removeprefix("http://")
    assert outcome.error == f"no complete response from {host} within 1s (the per-feed deadline)"


def test_declared_oversize_body_fails_before_reading(feed_server: FeedServer) -> None:
    feed_server.feed("/big", b"<rss>" + b" " * 20_000)
    outcome = _poll_one(_state(feed_server, "/big"), replace_settings(max_body_bytes=10_000))
    assert outcome.error == "body exceeds 10000 bytes (Content-Length: 20005)"


def test_endless_body_stops_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.endless("/endless")
    outcome = _poll_one(_state(feed_server, "/endless"))
    assert outcome.error == "body exceeds 10000000 bytes (streamed)"


def test_gzip_bomb_stops_at_the_cap_counted_decompressed(feed_server: FeedServer) -> None:
    feed_server.gzip_bomb("/bomb", size=1_000_000_000)
    outcome = _poll_one(_state(feed_server, "/bomb"))
    assert outcome.error == "body exceeds 10000000 bytes (decompressed)"
    assert outcome.state.body_hash is None


def test_small_compressed_body_under_the_cap_is_read(feed_server: FeedServer) -> None:
    body = _feed(*(_item_xml(i, f"n{i}") for i in range(200))).encode()
    compressed = gzip.compress(body)
    assert len(compressed) < 20_000 < len(body)
    feed_server.feed("/gz", compressed, headers={"Content-Encoding": "gzip"})
    outcome = _poll_one(_state(feed_server, "/gz"), replace_settings(max_body_bytes=len(body)))
    assert len(outcome.items) == 200
    outcome = _poll_one(_state(feed_server, "/gz"), replace_settings(max_body_bytes=len(body) - 1))
    assert outcome.error == f"body exceeds {len(body) - 1} bytes (decompressed)"


def test_unknown_content_encoding_is_refused(feed_server: FeedServer) -> None:
    feed_server.feed("/br", b"\x1b\x00", headers={"Content-Encoding": "br"})
    outcome = _poll_one(_state(feed_server, "/br"))
    assert outcome.error == f"unsupported Content-Encoding 'br' from {feed_server.url('/br')}"


def test_external_entity_in_a_served_feed_fetches_nothing(feed_server: FeedServer) -> None:
    feed_server.feed("/entity-target", "SECRET")
    feed_server.feed(
        "/xxe",
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM '
        f'"{feed_server.url("/entity-target")}">]>'
        "<rss version='2.0'><channel><title>&xxe;</title></channel></rss>",
    )
    feed_server.feed(
        "/w3c-entities",
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        '<!ENTITY % lat1 PUBLIC "-//W3C//ENTITIES Latin 1//EN"'
        f' "{feed_server.url("/entity-target")}">\n%lat1;\n]>\n'
        "<rss version='2.0'><channel><title>Fine</title></channel></rss>",
    )
    refused, allowed = _poll([_state(feed_server, "/xxe"), _state(feed_server, "/w3c-entities")])
    assert refused.status is FetchStatus.FAILED
    assert refused.error is not None and refused.error.startswith(
        "refused: the document's DTD declares the external entity &xxe;"
    )
    assert allowed.status is FetchStatus.FETCHED and allowed.state.title == "Fine"
    assert feed_server.hits("/entity-target") == 0


def test_the_server_fixture_counts_and_bounds(feed_server: FeedServer) -> None:
    """The test server itself: a hang ends on its own, counts are per path."""
    feed_server.hang("/h", seconds=0.2)
    done = threading.Event()

    def call() -> None:
        import urllib.request

        with contextlib.suppress(OSError):  # URLError and the server's hang-up are OSErrors
            urllib.request.urlopen(feed_server.url("/h"), timeout=3).read()
        done.set()

    threading.Thread(target=call, daemon=True).start()
    assert done.wait(3)
    assert feed_server.hits("/h") == 1 and feed_server.hits("/other") == 0
