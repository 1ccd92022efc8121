"""A feed's poll is written in one transaction: its stories and its new state together.

On real SQLite and real PostgreSQL (the `store` fixture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from bot.errors import StoreError
from bot.store import Store
from bot.types import FeedState, UpsertResult
from tests.test_store import make_item, placed

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _state(store: Store) -> FeedState:
    store.sync_feeds([("rs", "https://example.org/feed")], NOW)
    (state,) = store.feed_states()
    return replace(state, etag='"v2"', body_hash="abc", last_success=NOW)


def test_stories_and_state_commit_together(store: Store) -> None:
    state = _state(store)
    commits: list[object] = []
    event.listen(store.engine, "commit", commits.append)
    rows = [(make_item(f"k{n}"), placed()) for n in range(40)]
    assert store.upsert_items(rows, NOW, feed_state=state) == UpsertResult(new=40)
    assert len(commits) == 1  # forty stories and the state: one transaction
    assert store.feed_states()[0].etag == '"v2"'
    assert len(store.list_items()) == 40


def test_a_failing_batch_keeps_the_old_state(store: Store) -> None:
    state = _state(store)
    bad = make_item("bad")
    object.__setattr__(bad, "tags", object())  # cannot be stored as JSON
    with pytest.raises((StoreError, TypeError)):
        store.upsert_items([(make_item("ok"), placed()), (bad, placed())], NOW, feed_state=state)
    assert store.feed_states()[0].etag is None  # the validators were not moved on
    assert store.list_items() == []


def test_a_poll_without_stories_still_saves_the_state(store: Store) -> None:
    state = _state(store)
    assert store.upsert_items([], NOW, feed_state=state) == UpsertResult()
    assert store.feed_states()[0].body_hash == "abc"
