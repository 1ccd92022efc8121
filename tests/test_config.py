"""Config loading: typed, validated, every error at once with file, line and path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config, parse_config, parse_duration
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """\
newsletter:
  publication: Example
  site_url: https://example.org
  sender: {email: news@example.org}
  postal_address: 1 Example Street
feeds:
  - name: main
    url: https://example.org/feed.rss
regions:
  - name: Europe
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "feeds.yaml")
    return list(info.value.problems)


def test_shipped_config_loads() -> None:
    config = load_config(ROOT / "config" / "feeds.yaml")
    assert [r.name for r in config.regions][:3] == ["Middle East", "Asia-Pacific", "Europe"]
    assert config.feeds[0].url == "https://responsiblestatecraft.org/feeds/feed.rss"
    assert config.region_names[-1] == config.fallback.name
    # Emails need both halves of List-Unsubscribe and links into the web app.
    assert config.newsletter.unsubscribe_mailto and config.newsletter.base_url


def test_minimal_config_has_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.fetch.max_body_bytes == 10_000_000
    assert config.fetch.max_redirects == 5
    assert config.fetch.parser == "fastfeedparser"
    assert parse_config(MINIMAL + "fetch:\n  parser: feedparser\n").fetch.parser == "feedparser"
    assert config.classify.precedence == ("tag", "url", "keyword", "feed")
    assert config.newsletter.timezone == "UTC"
    assert config.region_names == ("Europe", "More from the site")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        (" 5 m ", timedelta(minutes=5)),
    ],
)
def test_durations(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["0m", "-5m", "5q", "", "soon", True, 0, -1, None])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("  site_url: https://example.org", "  site_url: example.org"),
            "feeds.yaml:3: newsletter.site_url: expected an http(s) URL, got 'example.org'",
        ),
        (
            ("  postal_address: 1 Example Street\n", ""),
            "feeds.yaml:1: newsletter.postal_address: required, but missing",
        ),
        (
            ("    url: https://example.org/feed.rss", "    url: ftp://example.org/feed"),
            "feeds.yaml:8: feeds[0].url: expected an http(s) URL, got 'ftp://example.org/feed'",
        ),
        (
            (
                "    url: https://example.org/feed.rss",
                "    url: https://example.org/f\n    colour: red",
            ),
            "feeds.yaml:9: feeds[0].colour: unknown key (check the spelling)",
        ),
        (
            (
                "  - name: Europe",
                "  - name: Europe\n    rules:\n      - tags: [a]\n        urls: [/b/]",
            ),
            "feeds.yaml:12: regions[0].rules[0]: "
            "a rule needs exactly one of tags, keywords or urls",
        ),
        (
            (
                "  - name: Europe",
                "  - name: Europe\n    rules:\n      - keywords: [a]\n        fields: [body]",
            ),
            "feeds.yaml:13: regions[0].rules[0].fields[0]: Input should be 'title' or 'lede'",
        ),
        (
            ("  sender:", "  timezone: Mars/Olympus\n  sender:"),
            "feeds.yaml:4: newsletter.timezone: unknown timezone 'Mars/Olympus'",
        ),
        (
            (
                "    url: https://example.org/feed.rss",
                "    url: https://example.org/f\n    region: Asia",
            ),
            "feeds.yaml:9: feeds[0].region: 'Asia' is not a region (regions: Europe)",
        ),
        (
            (
                "    url: https://example.org/feed.rss",
                "    url: https://example.org/f\n    poll_interval: often",
            ),
            "feeds.yaml:9: feeds[0].poll_interval: expected a duration such as 30m",
        ),
        (
            ("regions:", "fetch:\n  parser: lxml\nregions:"),
            "feeds.yaml:10: fetch.parser: Input should be 'fastfeedparser' or 'feedparser'",
        ),
    ],
)
def test_each_problem_has_line_and_path(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in MINIMAL
    found = problems(MINIMAL.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = (
        MINIMAL.replace("https://example.org\n", "nope\n").replace(
            "https://example.org/feed.rss", "ftp://x"
        )
        + "fetch:\n  concurrency: 0\n  max_redirects: 99\n"
    )
    found = problems(text)
    assert len(found) == 4, found
    assert {p.split(": ")[1] for p in found} == {
        "newsletter.site_url",
        "feeds[0].url",
        "fetch.concurrency",
        "fetch.max_redirects",
    }


def test_duplicate_feed_names() -> None:
    text = MINIMAL + "  - name: Europe\n"
    assert problems(text) == [
        "feeds.yaml:11: regions[1]: duplicate region name 'europe'",
        "feeds.yaml:11: regions[1]: duplicate region slug 'europe'",
    ]


def test_a_key_written_twice_is_a_problem_with_both_lines() -> None:
    text = MINIMAL.replace(
        "    url: https://example.org/feed.rss\n",
        "    url: https://example.org/feed.rss\n    url: https://example.org/other.rss\n",
    ).replace("  publication: Example\n", "  publication: Example\n  publication: Other\n")
    assert problems(text) == [
        "feeds.yaml:3: newsletter.publication: written twice (first on line 2)",
        "feeds.yaml:10: feeds[0].url: written twice (first on line 9)",
    ]


def test_duplicates_are_reported_with_the_schema_errors_in_line_order() -> None:
    text = (
        MINIMAL.replace("https://example.org/feed.rss", "ftp://x")
        + "  - name: Asia\n    slug: europe\n"
        + "fallback:\n  name: asia\n"
    ).replace(
        "regions:\n",
        "  - name: main\n    url: https://example.org/2\n    region: Africa\n"
        "    poll_interval: soon\nregions:\n",
    )
    assert problems(text) == [
        "feeds.yaml:8: feeds[0].url: expected an http(s) URL, got 'ftp://x'",
        "feeds.yaml:9: feeds[1]: duplicate feed name 'main'",
        "feeds.yaml:11: feeds[1].region: 'Africa' is not a region (regions: Asia, Europe)",
        "feeds.yaml:12: feeds[1].poll_interval: expected a duration such as 30m, 6h or 1d, "
        "got 'soon'",
        "feeds.yaml:15: regions[1]: duplicate region slug 'europe'",
        "feeds.yaml:18: fallback.name: 'asia' is also a region",
    ]


def test_duplicates_in_entries_that_are_themselves_invalid_are_still_found() -> None:
    text = MINIMAL + "  - name: europe\n    colour: blue\n  - 42\n"
    assert problems(text) == [
        "feeds.yaml:11: regions[1]: duplicate region name 'europe'",
        "feeds.yaml:11: regions[1]: duplicate region slug 'europe'",
        "feeds.yaml:12: regions[1].colour: unknown key (check the spelling)",
        "feeds.yaml:13: regions[2]: Input should be a valid dictionary or instance of RegionConfig",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds: [unclosed\n", "feeds.yaml:2:"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "must be a mapping"),
        ("a: &x [1]\nb: *x\n", "aliases are not allowed"),
        ("a: !!python/object:os.system ls\n", "feeds.yaml:1:"),
    ],
)
def test_not_a_config(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "feeds.yaml")
    assert expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * 3_000_000)
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)
