"""Pure decisions of ingest, as tables: due, backoff, state transitions, URLs, text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest import backoff_delay, canonical_url, is_due, next_due
from bot.ingest.due import retry_after_delay
from bot.ingest.outcome import Fetched, Timing, failed, succeeded
from bot.ingest.text import html_to_text, sanitise_html, split_credit, trim_text
from bot.ingest.urls import UrlDropped, clean_url, resolve_link
from bot.types import FeedState, FetchStatus

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
STATE = FeedState(name="f", url="https://example.org/feed", config_url="https://example.org/feed")


@pytest.mark.parametrize(
    ("next_at", "expected"),
    [
        (None, True),  # never polled
        (NOW - MIN, True),
        (NOW, True),  # the moment itself is due
        (NOW + timedelta(seconds=1), False),
        (NOW + timedelta(days=1), False),
        (datetime(2026, 11, 24, 11, 0), True),  # a naive time is taken as UTC
        (datetime(2026, 11, 24, 13, 0), False),
        (datetime(2026, 11, 24, 7, 30, tzinfo=UTC) + timedelta(hours=4, minutes=30), True),
    ],
)
def test_is_due(next_at: datetime | None, expected: bool) -> None:
    assert is_due(replace(STATE, next_due=next_at), NOW) is expected


def test_is_due_compares_instants_across_zones() -> None:
    from zoneinfo import ZoneInfo

    new_york = NOW.astimezone(ZoneInfo("America/New_York"))  # the same instant
    assert is_due(replace(STATE, next_due=NOW), new_york)
    assert not is_due(replace(STATE, next_due=NOW + MIN), new_york)


BASE, CAP = timedelta(minutes=5), timedelta(hours=24)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (0, BASE),  # defensive: a failure is always at least the base
        (1, BASE),
        (2, 2 * BASE),
        (3, 4 * BASE),
        (4, 8 * BASE),
        (8, 128 * BASE),  # 10h40m
        (9, 256 * BASE),  # 21h20m, still under the cap
        (10, CAP),  # 42h40m would exceed it
        (1000, CAP),  # no overflow
    ],
)
def test_backoff_delay(failures: int, delay: timedelta) -> None:
    assert backoff_delay(failures, BASE, CAP) == delay


@pytest.mark.parametrize(
    ("ok", "failures", "interval", "expected"),
    [
        (True, 0, timedelta(minutes=30), NOW + timedelta(minutes=30)),
        (True, 0, timedelta(hours=6), NOW + timedelta(hours=6)),
        (False, 1, timedelta(minutes=30), NOW + BASE),
        (False, 2, timedelta(minutes=30), NOW + 2 * BASE),
        (False, 5, timedelta(minutes=30), NOW + 16 * BASE),
        (False, 40, timedelta(minutes=30), NOW + CAP),
    ],
)
def test_next_due(ok: bool, failures: int, interval: timedelta, expected: datetime) -> None:
    state = replace(STATE, consecutive_failures=failures)
    got = next_due(state, NOW, ok=ok, interval=interval, backoff_base=BASE, backoff_max=CAP)
    assert got == expected


TIMING = Timing(interval=timedelta(minutes=30), backoff_base=BASE, backoff_max=CAP)


def test_failure_counts_up_keeps_validators_and_backs_off() -> None:
    before = replace(STATE, etag='"e1"', last_modified="x", body_hash="h", consecutive_failures=2)
    outcome = failed(before, NOW, TIMING, "HTTP 500 Internal Server Error from https://e/\nmore")
    assert outcome.status is FetchStatus.FAILED
    assert outcome.error == "HTTP 500 Internal Server Error from https://e/ more"  # one line
    assert outcome.state.consecutive_failures == 3
    assert outcome.state.last_error == outcome.error
    assert outcome.state.next_due == NOW + 4 * BASE
    assert outcome.state.last_attempt == NOW
    assert (outcome.state.etag, outcome.state.last_modified, outcome.state.body_hash) == (
        '"e1"',
        "x",
        "h",
    )
    assert outcome.state.url == STATE.url


def test_success_resets_failures_and_moves_url() -> None:
    before = replace(STATE, consecutive_failures=4, last_error="boom", title="Old")
    fetched = Fetched(
        status=FetchStatus.FETCHED,
        url="https://example.org/new-feed",
        etag='"e2"',
        last_modified=None,
        body_hash="abc",
        http_status=200,
        title=None,
    )
    outcome = succeeded(before, NOW, TIMING, fetched)
    state = outcome.state
    assert outcome.status is FetchStatus.FETCHED
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert state.url == "https://example.org/new-feed"
    assert state.config_url == STATE.config_url
    assert (state.etag, state.body_hash, state.title) == ('"e2"', "abc", "Old")
    assert state.last_success == state.last_attempt == NOW
    assert state.next_due == NOW + timedelta(minutes=30)


def test_a_permanent_redirect_to_an_unclean_url_keeps_the_old_one() -> None:
    fetched = Fetched(
        status=FetchStatus.FETCHED,
        url='https://example.org/"><script>alert(1)</script>',
        etag=None,
        last_modified=None,
        body_hash="abc",
        warnings=("bozo",),
    )
    outcome = succeeded(STATE, NOW, TIMING, fetched)
    assert outcome.state.url == STATE.url
    assert outcome.warnings[0] == "bozo"
    assert outcome.warnings[1].startswith("permanent redirect dropped (contains the character")


def test_a_permanent_redirect_is_stored_percent_encoded() -> None:
    fetched = Fetched(FetchStatus.FETCHED, "https://example.org/f\u00fcd?x=%7e", None, None, "h")
    outcome = succeeded(STATE, NOW, TIMING, fetched)
    assert outcome.state.url == "https://example.org/f%C3%BCd?x=~"
    assert outcome.warnings == ()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("HTTPS://Example.ORG/Path/Case", "https://example.org/Path/Case"),  # path kept
        ("https://example.org", "https://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org:443/a", "http://example.org:443/a"),  # not the default for http
        ("https://example.org/a#section-2", "https://example.org/a"),
        ("https://example.org/a?utm_source=x&utm_medium=y&utm_campaign=z", "https://example.org/a"),
        ("https://example.org/a?id=7&utm_source=rss", "https://example.org/a?id=7"),
        ("https://example.org/a?UTM_Source=x&b=2", "https://example.org/a?b=2"),
        ("https://example.org/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4", "https://example.org/a"),
        ("https://example.org/a?q=a+b&x=%20y&fbclid=1", "https://example.org/a?q=a+b&x=%20y"),
        ("https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),  # order kept
        ("https://example.org/a?flag&utm_term=t", "https://example.org/a?flag"),
        (
            "https://www.bbc.co.uk/news/x?at_medium=RSS&at_campaign=KARANGA",
            "https://www.bbc.co.uk/news/x",
        ),
        ("https://example.org./a", "https://example.org/a"),  # trailing dot of the host
        ("  https://example.org/a  ", "https://example.org/a"),
        ("https://user@Example.org/a", "https://user@example.org/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("mailto:desk@example.org", "mailto:desk@example.org"),  # not a web URL: unchanged
        ("/relative/path", "/relative/path"),
        ("https://example.org:99999/a", "https://example.org:99999/a"),  # bad port: unchanged
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a", "https://example.org/feed/", "https://example.org/a"),
        ("b", "https://example.org/feed/", "https://example.org/feed/b"),
        ("//cdn.example.org/c", "https://example.org/", "https://cdn.example.org/c"),
        ("https://other.org/d", "https://example.org/", "https://other.org/d"),
        ("", "https://example.org/", ""),
        ("  ", "https://example.org/", ""),
        (None, "https://example.org/", ""),
    ],
)
def test_resolve_link(link: str | None, base: str, expected: str) -> None:
    assert resolve_link(link, base) == expected


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("javascript:alert(1)", "not an absolute http"),
        ("data:text/html,<b>x</b>", "the character <"),
        ("ftp://example.org/file", "not an absolute http"),
        ('"><script>alert(1)</script>', 'the character "'),
    ],
)
def test_resolve_link_drops_what_must_not_be_stored(link: str, reason: str) -> None:
    with pytest.raises(UrlDropped, match=reason):
        resolve_link(link, "https://example.org/feed/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1#c", "https://example.org/a?b=1#c"),
        ("HTTPS://Example.ORG", "https://Example.ORG/"),  # the host keeps its case
        ("https://example.org/a%2fb%7e%41", "https://example.org/a%2Fb~A"),  # case, unreserved
        ("https://example.org/100%", "https://example.org/100%25"),  # a stray % is escaped
        ("https://example.org/caf\u00e9?q=\u00fc", "https://example.org/caf%C3%A9?q=%C3%BC"),
        ("https://example.org/{x}|^", "https://example.org/%7Bx%7D%7C%5E"),
        ("https://example.org/o'brien", "https://example.org/o%27brien"),
        ("https://example.org/a?x=[1]&y=a+b", "https://example.org/a?x=%5B1%5D&y=a+b"),
        ("https://b\u00fccher.example/", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("https://user:pw@example.org/", "https://user:pw@example.org/"),
    ],
)
def test_clean_url_percent_encodes_canonically(url: str, expected: str) -> None:
    assert clean_url(url) == expected
    assert clean_url(expected) == expected  # canonical: cleaning again changes nothing


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.org/a b", "whitespace"),
        ("https://example.org/a\tb", "whitespace"),
        ("https://example.org/a\u00a0b", "whitespace"),
        ('https://example.org/"><script>', 'the character "'),
        ("https://example.org/<x>", "the character <"),
        ("https://example.org/a>", "the character >"),
        ("https://example.org/a`b", "the character `"),
        ("https://example.org\\@evil.example/", "a backslash"),
        ("https://example.org/\x00", "a control character"),
        ("/relative", "not an absolute http"),
        ("mailto:desk@example.org", "not an absolute http"),
        ("https:///path", "no host"),
        ("https://exa%2Fmple.org/", "not a valid domain name"),
        ("https://example.org:99999/", "not a valid URL"),
        ("https://example.org/" + "a" * 2100, "longer than"),
    ],
)
def test_clean_url_drops_what_is_not_a_url(url: str, reason: str) -> None:
    with pytest.raises(UrlDropped, match=reason):
        clean_url(url)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One Two"),
        ("A &amp; B &lt;c&gt; &#8217; &rsquo;", "A & B <c> ’ ’"),
        ("  spaced \n\t out  ", "spaced out"),
        ("<script>alert(1)</script>Safe<style>p{}</style>", "Safe"),
        ("<img src=x onerror=alert(1)>caption", "caption"),
        ("line<br>break", "line break"),
        ("a < b and c > d", "a < b and c > d"),
        ("<iframe src='https://evil.example/'>fallback</iframe>After", "After"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "present", "absent"),
    [
        ("<p onclick='x()'>hi</p>", "<p>hi</p>", "onclick"),
        ("<script>alert(1)</script><b>ok</b>", "<b>ok</b>", "alert"),
        ('<a href="javascript:alert(1)">x</a>', ">x</a>", "javascript"),
        (
            '<img src="https://e.org/i.jpg" onerror="alert(1)">',
            'src="https://e.org/i.jpg"',
            "onerror",
        ),
        ("<iframe src='https://evil.example/'>fb</iframe><i>ok</i>", "<i>ok</i>", "iframe"),
        ("<style>body{display:none}</style><em>ok</em>", "<em>ok</em>", "display"),
        ('<a href="https://e.org/">link</a>', 'rel="noopener noreferrer"', "javascript"),
        ("<svg><script>alert(1)</script></svg>text", "text", "svg"),
    ],
)
def test_sanitise_html(html: str, present: str, absent: str) -> None:
    clean = sanitise_html(html)
    assert present in clean
    assert absent not in clean


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # Relative links are resolved against the story's URL...
        ('<a href="/x">x</a>', '<a href="https://site.example/x" rel="noopener noreferrer">x</a>'),
        ("<img src='pic.jpg'>", '<img src="https://site.example/news/pic.jpg">'),
        ('<A HREF="/x">x</A>', '<a href="https://site.example/x" rel="noopener noreferrer">x</a>'),
        (
            "<a href=x>x</a>",
            '<a href="https://site.example/news/x" rel="noopener noreferrer">x</a>',
        ),
        # ...and absolute ones are left exactly as written, quoted or not.
        (
            '<a href="https://e.org/a/../b">x</a>',
            '<a href="https://e.org/a/../b" rel="noopener noreferrer">x</a>',
        ),
        (
            "<a href = ' https://e.org/a/../b'>x</a>",
            '<a href=" https://e.org/a/../b" rel="noopener noreferrer">x</a>',
        ),
    ],
)
def test_sanitise_html_resolves_relative_links_only(html: str, expected: str) -> None:
    assert sanitise_html(html, base="https://site.example/news/story") == expected


LONG_SENTENCE = "word " * 80


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short lede.", "Short lede."),
        # The last sentence end that fits wins...
        ("A" * 200 + " ends here. " + "B " * 100, "A" * 200 + " ends here."),
        # ... and a sentence that overruns the limit only a little is kept whole.
        ("A" * 200 + " ends here. " + "B" * 80 + " second ends.", None),
        # "U.S." and "Mr." do not end sentences.
        (
            "x" * 140 + " met Mr. Smith and U.S. officials at length in Geneva on a long Monday "
            "and talked on " + "y " * 60,
            None,
        ),
        # No sentence end at all: cut at a word boundary, with an ellipsis.
        (LONG_SENTENCE, "word " * 59 + "word…"),
    ],
)
def test_trim_text(text: str, expected: str | None) -> None:
    trimmed = trim_text(text, 300)
    assert len(trimmed) <= 345
    if expected is not None:
        assert trimmed == expected
    elif "second ends" in text:
        assert trimmed == text
    else:
        assert trimmed.endswith("…")
        assert "Mr." in trimmed and "U.S." in trimmed  # not cut at the abbreviations


@pytest.mark.parametrize(
    ("lines", "rest", "credit"),
    [
        (["Top photo credit: Jane Doe/Agency", "The lede."], ["The lede."], "Jane Doe/Agency"),
        (
            ["Top image credit: REUTERS/El Tayeb Siddig", "Lede."],
            ["Lede."],
            "REUTERS/El Tayeb Siddig",
        ),
        (["Photo credit: Staff", "Lede."], ["Lede."], "Staff"),
        (["The lede.", "photo credit - Someone"], ["The lede."], "Someone"),
        (["The lede mentions a photo credit: not at the start."], None, None),
        (["No credit here."], ["No credit here."], None),
        ([], [], None),
    ],
)
def test_split_credit(lines: list[str], rest: list[str] | None, credit: str | None) -> None:
    got_rest, got_credit = split_credit(lines)
    assert got_rest == (lines if rest is None else rest)
    assert got_credit == credit


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Tue, 24 Nov 2026 13:00:00 GMT", timedelta(hours=1)),
        ("Tue, 24 Nov 2026 11:00:00 GMT", timedelta(0)),  # already past: no wait
        ("soon", None),
        ("-5", None),
        ("99999999999999999999", timedelta(seconds=10**9)),  # bounded
        ("Tue, 24 Nov 2026 13:00:00 -0000", None),  # no zone said: not trusted
    ],
)
def test_retry_after_delay(header: str | None, expected: timedelta | None) -> None:
    assert retry_after_delay(header, NOW) == expected


@pytest.mark.parametrize(
    ("status", "header", "failures_before", "expected"),
    [
        (503, "3600", 0, NOW + timedelta(hours=1)),  # later than our backoff: honoured
        (429, "60", 0, NOW + BASE),  # sooner than our backoff: ours stands
        (503, "31536000", 0, NOW + CAP),  # a year: capped at backoff_max
        (500, "3600", 0, NOW + BASE),  # only 429 and 503 carry a meaningful Retry-After
        (503, None, 2, NOW + 4 * BASE),
    ],
)
def test_failure_honours_retry_after_within_our_cap(
    status: int, header: str | None, failures_before: int, expected: datetime
) -> None:
    before = replace(STATE, consecutive_failures=failures_before)
    outcome = failed(before, NOW, TIMING, "busy", http_status=status, retry_after=header)
    assert outcome.state.next_due == expected
