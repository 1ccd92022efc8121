"""The store's feeds and items, on real SQLite and real PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.errors import NotFoundError
from bot.store import Store, open_store
from bot.types import Classification, FeedState, Item, RuleMatch, UpsertResult

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def make_item(key: str, *, feed: str = "rs", canonical: str | None = None, **kw: object) -> Item:
    url = str(kw.pop("url", f"https://example.org/{key}?utm_source=feed"))
    fields: dict[str, object] = {
        "title": f"Story {key}",
        "lede": f"Lede of {key}.",
        "published": T0,
        "tags": ("Middle East", "Iran"),
        **kw,
    }
    return Item(
        key=key,
        feed=feed,
        url=url,
        canonical_url=canonical or f"https://example.org/{key}",
        **fields,  # type: ignore[arg-type]
    )


def tag_rule(region: str = "Middle East", tag: str = "Iran") -> RuleMatch:
    return RuleMatch(kind="tag", region=region, pattern=tag, field="tags", matched=tag)


def placed(region: str = "Middle East", *candidates: str) -> Classification:
    return Classification(region=region, rule=tag_rule(region), candidates=candidates)


# feeds


def test_sync_feeds_adds_new_and_keeps_removed(store: Store) -> None:
    store.sync_feeds([("b", "https://b.example/feed"), ("a", "https://a.example/feed")], NOW)
    store.sync_feeds([("a", "https://a.example/feed")], NOW)
    states = store.feed_states()
    assert [s.name for s in states] == ["a", "b"]
    assert states[1].url == states[1].config_url == "https://b.example/feed"
    assert store.feed_state("missing") is None


def test_sync_feeds_url_change_starts_the_feed_afresh(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/feed")], NOW)
    polled = FeedState(
        name="a",
        url="https://a.example/moved",  # a permanent redirect replaced it
        config_url="https://a.example/feed",
        etag='"v1"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
        body_hash="abc",
        last_success=NOW,
        consecutive_failures=3,
        next_due=NOW + timedelta(hours=2),
        last_error="HTTP 503",
        title="A",
    )
    store.save_feed_state(polled)
    store.sync_feeds([("a", "https://a.example/feed")], NOW)  # unchanged config: kept
    assert store.feed_state("a") == polled

    store.sync_feeds([("a", "https://new.example/rss")], NOW)
    state = store.feed_state("a")
    assert state is not None
    assert (state.url, state.config_url) == ("https://new.example/rss", "https://new.example/rss")
    assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
    assert (state.consecutive_failures, state.next_due, state.last_error) == (0, None, None)
    assert (state.title, state.last_success) == ("A", NOW)  # history of the feed stays


def test_feed_state_round_trip_in_utc(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    state = FeedState(
        name="rs",
        url="https://rs.example/feed",
        config_url="https://rs.example/feed",
        last_attempt=datetime(2026, 11, 24, 7, 30, 15, 123456, tzinfo=eastern),
        last_success=datetime(2026, 11, 24, 12, 30, tzinfo=UTC),
        next_due=datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
        consecutive_failures=2,
    )
    store.save_feed_state(state)  # no sync first: saving inserts
    got = store.feed_state("rs")
    assert got == state
    assert got is not None and got.last_attempt is not None
    assert got.last_attempt.utcoffset() == timedelta(0)
    assert got.last_attempt == datetime(2026, 11, 24, 12, 30, 15, 123456, tzinfo=UTC)


def test_feed_item_counts(store: Store) -> None:
    store.sync_feeds([("rs", "https://rs.example/feed"), ("quiet", "https://q.example/f")], NOW)
    store.upsert_items([(make_item("a"), placed()), (make_item("b"), placed())], NOW)
    store.upsert_items([(make_item("c", feed="gone"), placed())], NOW)
    assert store.feed_item_counts() == {"rs": 2, "quiet": 0, "gone": 1}


# items: upsert


def test_upsert_new_then_unchanged_moves_last_seen(store: Store) -> None:
    rows = [(make_item("a"), placed()), (make_item("b"), placed("Europe"))]
    assert store.upsert_items(rows, NOW) == UpsertResult(new=2)
    later = NOW + timedelta(hours=1)
    assert store.upsert_items(rows, later) == UpsertResult(unchanged=2)
    stored = store.get_item("a")
    assert stored is not None
    assert (stored.first_seen, stored.last_seen) == (NOW, later)
    assert stored.item == make_item("a")
    assert (stored.region, stored.candidates, stored.region_manual) == ("Middle East", (), False)
    assert store.upsert_items([], NOW) == UpsertResult()


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Story a, revised"},
        {"lede": "A new lede."},
        {"content": "<p>Body</p>"},
        {"author": "Jane Doe"},
        {"updated": T0 + timedelta(hours=3)},
        {"published": T0 + timedelta(minutes=1)},
        {"tags": ("Middle East",)},
        {"image_url": "https://example.org/a.jpg"},
        {"image_credit": "Photo: Reuters"},
        {"url": "https://example.org/a?utm_source=other"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_upsert_content_change_is_an_update(store: Store, change: dict[str, Any]) -> None:
    store.upsert_items([(make_item("a"), placed())], NOW)
    changed = replace(make_item("a"), **change)
    later = NOW + timedelta(hours=1)
    assert store.upsert_items([(changed, placed())], later) == UpsertResult(updated=1)
    stored = store.get_item("a")
    assert stored is not None
    assert stored.item == changed
    assert (stored.first_seen, stored.last_seen) == (NOW, later)


def test_upsert_new_classification_is_an_update(store: Store) -> None:
    store.upsert_items([(make_item("a"), placed())], NOW)
    result = store.upsert_items([(make_item("a"), placed("Europe", "Middle East"))], NOW)
    assert result == UpsertResult(updated=1)
    assert store.get_classification("a") == placed("Europe", "Middle East")


def test_same_story_by_key_is_stored_once(store: Store) -> None:
    store.upsert_items([(make_item("a"), placed())], NOW)
    moved = make_item("a", canonical="https://example.org/2026/a", title="Story a (moved)")
    assert store.upsert_items([(moved, placed())], NOW) == UpsertResult(updated=1)
    assert [s.item for s in store.list_items()] == [moved]


def test_same_story_by_canonical_url_from_another_feed(store: Store) -> None:
    first = make_item("rs-guid-1", feed="rs")
    store.upsert_items([(first, placed())], NOW)
    other = replace(first, key="me-guid-9", feed="middle-east")  # same link, other guid
    later = NOW + timedelta(hours=2)
    assert store.upsert_items([(other, placed())], later) == UpsertResult(unchanged=1)
    [stored] = store.list_items()
    assert (stored.key, stored.item.feed, stored.first_seen) == ("rs-guid-1", "rs", NOW)
    assert store.get_item("me-guid-9") is None
    retitled = replace(other, title="Another headline")
    assert store.upsert_items([(retitled, placed())], later) == UpsertResult(updated=1)
    stored_now = store.get_item("rs-guid-1")
    assert stored_now is not None
    assert (stored_now.item.title, stored_now.item.feed) == ("Another headline", "rs")


def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    a = make_item("a")
    rows = [
        (a, placed()),
        (a, placed()),  # the same entry twice
        (make_item("a2", canonical=a.canonical_url), placed()),  # same story, other guid
        (make_item("b"), placed()),
    ]
    assert store.upsert_items(rows, NOW) == UpsertResult(new=2)
    assert sorted(s.key for s in store.list_items()) == ["a", "b"]
    # Against stored rows: one incoming by key, one by canonical URL, both story "a".
    again = [(make_item("a"), placed()), (make_item("x", canonical=a.canonical_url), placed())]
    assert store.upsert_items(again, NOW) == UpsertResult(unchanged=1)


def test_a_moved_story_still_claims_its_old_url_in_the_batch(store: Store) -> None:
    store.upsert_items([(make_item("a"), placed())], NOW)
    moved = make_item("a", canonical="https://example.org/2026/a")
    on_old_url = make_item("x", canonical="https://example.org/a")  # the link "a" had
    rows = [(moved, placed()), (on_old_url, placed())]
    assert store.upsert_items(rows, NOW) == UpsertResult(updated=1)
    assert [(s.key, s.item.canonical_url) for s in store.list_items()] == [
        ("a", "https://example.org/2026/a")
    ]


def test_sqlite_keeps_timestamps_as_naive_utc_text(sqlite_url: str) -> None:
    # The text format is what orders and compares times in SQL: it must not drift.
    store = open_store(sqlite_url)
    try:
        published = datetime(2026, 11, 20, 11, 0, 0, 250, tzinfo=timezone(timedelta(hours=2)))
        store.upsert_items([(make_item("a", published=published), placed())], NOW)
        with store.engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT published, first_seen, sort_at FROM items").one()
    finally:
        store.close()
    assert tuple(row) == (
        "2026-11-20 09:00:00.000250",
        "2026-11-24 12:00:00.000000",
        "2026-11-20 09:00:00.000250",
    )


def test_manual_region_survives_upsert_and_reclassification(store: Store) -> None:
    store.upsert_items([(make_item("a"), placed())], NOW)
    store.set_region_manual("a", "Asia-Pacific")
    revised = make_item("a", title="Revised")
    assert store.upsert_items([(revised, placed("Europe"))], NOW) == UpsertResult(updated=1)
    store.set_classification("a", placed("Europe"))
    assert store.bulk_set_classifications([("a", placed("Europe"))]) == 0
    stored = store.get_item("a")
    assert stored is not None
    assert (stored.region, stored.region_manual, stored.item.title) == (
        "Asia-Pacific",
        True,
        "Revised",
    )


def test_set_classification_stores_rule_and_candidates(store: Store) -> None:
    store.upsert_items([(make_item("a"), Classification("Other", None))], NOW)
    assert store.get_classification("a") == Classification("Other", None, ())
    decision = Classification("Europe", tag_rule("Europe", "NATO"), ("Middle East",))
    store.set_classification("a", decision)
    assert store.get_classification("a") == decision
    stored = store.get_item("a")
    assert stored is not None and stored.candidates == ("Middle East",)
    assert store.get_classification("nope") is None
    with pytest.raises(NotFoundError, match="nope"):
        store.set_classification("nope", decision)
    with pytest.raises(NotFoundError, match="nope"):
        store.set_region_manual("nope", "Europe")


def test_bulk_set_classifications_counts_changes(store: Store) -> None:
    rows = [(make_item(k), placed()) for k in ("a", "b", "c")]
    store.upsert_items(rows, NOW)
    store.set_region_manual("c", "Europe")
    changed = store.bulk_set_classifications(
        [("a", placed("Europe")), ("b", placed()), ("c", placed("Africa")), ("zz", placed())]
    )
    assert changed == 1  # b was already so, c is manual, zz does not exist
    regions = {s.key: s.region for s in store.iter_items()}
    assert regions == {"a": "Europe", "b": "Middle East", "c": "Europe"}


# items: reading


@pytest.fixture
def timeline(store: Store) -> Store:
    """Five items: published at T0+0h..+3h in two regions, one undated (first seen NOW)."""
    rows = [
        (make_item("h0", published=T0), placed("Europe")),
        (make_item("h1", published=T0 + timedelta(hours=1), feed="me"), placed()),
        (make_item("h2", published=T0 + timedelta(hours=2)), placed("Europe")),
        (make_item("h3", published=T0 + timedelta(hours=3), feed="me"), placed()),
        (make_item("undated", published=None), placed()),
    ]
    store.upsert_items(rows, NOW)
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["undated", "h3", "h2", "h1", "h0"]),
        ({"region": "Europe"}, ["h2", "h0"]),
        ({"feed": "me"}, ["h3", "h1"]),
        ({"since": T0 + timedelta(hours=1)}, ["undated", "h3", "h2", "h1"]),
        ({"until": T0 + timedelta(hours=2)}, ["h1", "h0"]),
        ({"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)}, ["h2", "h1"]),
        ({"since": NOW}, ["undated"]),
        ({"region": "Middle East", "limit": 2}, ["undated", "h3"]),
        ({"limit": 0}, []),
        ({"region": "Antarctica"}, []),
    ],
)
def test_list_items_filters_and_order(
    timeline: Store, filters: dict[str, object], expected: list[str]
) -> None:
    assert [s.key for s in timeline.list_items(**filters)] == expected  # type: ignore[arg-type]


def test_list_items_since_accepts_other_timezones(timeline: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    since = (T0 + timedelta(hours=3)).astimezone(plus_two)
    assert [s.key for s in timeline.list_items(since=since)] == ["undated", "h3"]
    for stored in timeline.list_items():
        assert stored.first_seen is not None and stored.first_seen.tzinfo is not None
        assert stored.first_seen.utcoffset() == timedelta(0)


def test_iter_items_streams_every_item_in_stable_order(store: Store) -> None:
    keys = [f"k{n:03d}" for n in range(57)]
    store.upsert_items([(make_item(k), placed()) for k in keys], NOW)
    streamed = store.iter_items(batch_size=10)
    first = next(streamed)
    assert first.key == "k000"
    rest = [s.key for s in streamed]
    assert [first.key, *rest] == keys
    assert [s.key for s in store.iter_items(batch_size=57)] == keys
    with pytest.raises(ValueError, match="batch_size"):
        next(store.iter_items(batch_size=0))


def test_webhook_events_are_recorded_once(store: Store) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert not store.webhook_event_seen("ev-1")
    assert store.record_webhook_event("ev-1", "bounce", "a@example.org", None, now)
    assert store.webhook_event_seen("ev-1")
    assert not store.record_webhook_event("ev-1", "bounce", "a@example.org", None, now)
    assert store.record_webhook_event("ev-2", "delivered", None, 7, now)
    assert not store.webhook_event_seen("ev-3")
