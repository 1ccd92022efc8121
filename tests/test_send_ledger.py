"""The delivery ledger on the real store (SQLite and PostgreSQL): plan, claim, mark, count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import SendError
from bot.store import Store
from bot.store.ledger import Planned
from bot.types import BatchState, SubscriberStatus

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = "2026-W48"
ALL = ("Middle East", "Europe", "More")
ME = ("Middle East",)


def people(n: int, regions: tuple[str, ...] | None = ALL, start: int = 1) -> list[Planned]:
    return [Planned(i, f"p{i}@example.org", regions) for i in range(start, start + n)]


def test_plan_groups_by_region_set_cuts_batches_and_counts_skips(store: Store) -> None:
    offered = people(5) + people(3, ME, start=100) + people(2, None, start=200) + people(2, start=6)
    result = store.plan_batches(KEY, iter(offered), batch_size=3, now=NOW)
    assert (result.batches, result.recipients, result.skipped) == (4, 10, 2)
    batches = store.list_batches(KEY)
    assert [b.seq for b in batches] == [1, 2, 3, 4]
    assert {b.state for b in batches} == {BatchState.PENDING}
    assert all(1 <= b.size <= 3 for b in batches)
    by_set: dict[tuple[str, ...], int] = {}
    for b in batches:
        by_set[b.regions] = by_set.get(b.regions, 0) + b.size
    assert by_set == {ALL: 7, ME: 3}
    emails = [e for b in batches for e in store.batch_emails(b.id)]
    assert sorted(emails) == sorted(p.email for p in offered if p.regions is not None)
    summary = store.ledger_summary(KEY)
    assert summary.batches == {BatchState.PENDING: 4}
    assert summary.total_recipients == 10


def test_a_plan_is_made_once(store: Store) -> None:
    store.plan_batches(KEY, iter(people(2)), batch_size=10, now=NOW)
    with pytest.raises(SendError, match="--resume"):
        store.plan_batches(KEY, iter(people(2, start=50)), batch_size=10, now=NOW)
    assert store.ledger_summary(KEY).total_recipients == 2


def test_a_recipient_offered_twice_fails_the_whole_plan(store: Store) -> None:
    # The primary key keeps one recipient in one batch; the plan is all or nothing.
    with pytest.raises(Exception):  # noqa: B017 (StoreError from either backend)
        store.plan_batches(KEY, iter(people(3) + people(1)), batch_size=2, now=NOW)
    assert store.list_batches(KEY) == []


def test_claim_mark_and_the_states_a_batch_moves_through(store: Store) -> None:
    store.plan_batches(KEY, iter(people(4)), batch_size=2, now=NOW)
    first, second = store.list_batches(KEY)
    claimed = store.claim_batch(first.id, transport="outbox", now=NOW)
    assert (claimed.state, claimed.attempts, claimed.transport) == (
        BatchState.IN_FLIGHT,
        1,
        "outbox",
    )
    with pytest.raises(SendError, match="in_flight"):
        store.claim_batch(first.id, transport="outbox", now=NOW)  # a second sender loses
    later = NOW + timedelta(seconds=5)
    done = store.mark_batch(first.id, BatchState.ACCEPTED, now=later, message_id="m-1")
    assert (done.state, done.message_id, done.accepted_at) == (BatchState.ACCEPTED, "m-1", later)
    with pytest.raises(SendError, match="accepted, not in_flight"):
        store.mark_batch(first.id, BatchState.FAILED, now=later)
    with pytest.raises(ValueError):
        store.mark_batch(second.id, BatchState.PENDING, now=later)

    store.claim_batch(second.id, transport="sendgrid", now=NOW)
    failed = store.mark_batch(second.id, BatchState.FAILED, now=later, error="SendGrid said no")
    assert (failed.state, failed.error) == (BatchState.FAILED, "SendGrid said no")
    again = store.claim_batch(
        second.id, transport="sendgrid", now=later, from_states=(BatchState.FAILED,)
    )
    assert again.attempts == 2
    summary = store.ledger_summary(KEY)
    assert summary.batches == {BatchState.ACCEPTED: 1, BatchState.IN_FLIGHT: 1}
    assert summary.recipients == {BatchState.ACCEPTED: 2, BatchState.IN_FLIGHT: 2}


def test_in_flight_after_a_crash_becomes_ambiguous_and_a_delivery_confirms_it(
    store: Store,
) -> None:
    store.plan_batches(KEY, iter(people(6)), batch_size=2, now=NOW)
    one, two, three = store.list_batches(KEY)
    store.claim_batch(one.id, transport="sendgrid", now=NOW)
    store.claim_batch(two.id, transport="sendgrid", now=NOW)
    store.mark_batch(two.id, BatchState.ACCEPTED, now=NOW)
    found = store.mark_in_flight_ambiguous(KEY, now=NOW)
    assert [b.id for b in found] == [one.id]
    assert found[0].state is BatchState.AMBIGUOUS and "may have been delivered" in (
        found[0].error or ""
    )
    assert store.mark_in_flight_ambiguous(KEY, now=NOW) == []
    assert store.confirm_batch_delivered(one.id, NOW) is True
    assert store.confirm_batch_delivered(one.id, NOW) is False  # a replay changes nothing
    assert store.confirm_batch_delivered(three.id, NOW) is False  # pending stays pending
    got = store.get_batch(one.id)
    assert got is not None and got.state is BatchState.ACCEPTED and got.error is None
    assert store.list_batches(KEY, [BatchState.PENDING]) == [store.get_batch(three.id)]


def test_batch_subscribers_are_read_as_they_are_now(store: Store) -> None:
    ids = []
    for i in range(3):
        s = store.add_subscriber(
            f"r{i}@example.org", now=NOW, status=SubscriberStatus.ACTIVE, name=f"R {i}"
        )
        assert s.id is not None
        ids.append(s.id)
    planned = [Planned(i, f"r{n}@example.org", ALL) for n, i in enumerate(ids)]
    store.plan_batches(KEY, iter(planned), batch_size=10, now=NOW)
    store.set_subscriber_status(ids[1], SubscriberStatus.UNSUBSCRIBED, now=NOW)
    (batch,) = store.list_batches(KEY)
    got = store.batch_subscribers(batch.id)
    assert [(s.id, s.status) for s in got] == [
        (ids[0], SubscriberStatus.ACTIVE),
        (ids[1], SubscriberStatus.UNSUBSCRIBED),
        (ids[2], SubscriberStatus.ACTIVE),
    ]
    assert got[0].name == "R 0"
