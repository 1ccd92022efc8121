"""The scheduler's jobs on a fixed clock and a real store: called at the times the
scheduler's own triggers compute, across a daylight-saving change; a draft missed
during downtime; an edition approved late, or too late; a quiet week; failing
feeds; manual actions from the command line, audited with who did them."""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import pipeline
from bot.clock import FixedClock
from bot.context import Context, open_context
from bot.scheduler import jobs
from bot.scheduler.rules import Weekly
from bot.scheduler.runner import trigger_next
from bot.scheduler.status import snapshot
from bot.types import BatchState, EditionState, JobRunState
from tests.httpserver import FeedServer
from tests.scheduling import (
    DRAFT_AT,
    KEY,
    SECRET,
    SEND_AT,
    add_stories,
    add_subscribers,
    approve,
    notices,
    outbox,
    write_config,
)

HOLDER = "test:1:-:x"
FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DRAFT_AT - timedelta(days=1))


def context(tmp_path: Path, url: str, clock: FixedClock, **kwargs: object) -> Context:
    return open_context(write_config(tmp_path, **kwargs), database_url=url, clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def ctx(
    tmp_path: Path, sqlite_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Context]:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", SECRET)
    with context(tmp_path, sqlite_url, clock) as c:
        yield c


def test_draft_and_send_fire_at_local_times_across_dst(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """New York leaves summer time on 2026-11-01: 09:00 is 13:00 UTC one week, 14:00 the next."""
    tz = ctx.config.newsletter.timezone
    draft = Weekly.parse(ctx.config.schedule.draft, tz)
    send = Weekly.parse(ctx.config.schedule.send, tz)
    add_subscribers(ctx, 3)
    at = datetime(2026, 10, 26, tzinfo=UTC)
    fired = []
    for week in ("2026-W44", "2026-W45"):
        clock.at = at
        add_stories(ctx, 3, at, prefix=week)
        draft_at = trigger_next(draft, at)
        assert draft_at is not None
        clock.at = draft_at - timedelta(minutes=1)  # not yet: the slot before ran
        assert jobs.draft_job(ctx, holder=HOLDER).decision in ("nothing", "too-late")
        assert ctx.store.get_edition(week) is None
        clock.at = draft_at
        assert jobs.draft_job(ctx, holder=HOLDER).decision == "run"
        approve(ctx, week)
        send_at = trigger_next(send, draft_at)
        assert send_at is not None
        clock.at = send_at
        assert jobs.send_job(ctx, holder=HOLDER).decision == "sent"
        edition = ctx.store.get_edition(week)
        assert edition is not None and edition.state is EditionState.SENT
        fired.append((draft_at, send_at))
        at = send_at + timedelta(days=2)
    assert fired == [
        (datetime(2026, 10, 29, 13, tzinfo=UTC), datetime(2026, 10, 30, 11, tzinfo=UTC)),
        (datetime(2026, 11, 5, 14, tzinfo=UTC), datetime(2026, 11, 6, 12, tzinfo=UTC)),
    ]
    for week in ("2026-W44", "2026-W45"):
        assert sorted(outbox(tmp_path, week)) == [f"reader{n}@example.org" for n in range(3)]


def test_a_draft_missed_within_the_grace_runs_once_on_start(
    ctx: Context, clock: FixedClock
) -> None:
    add_stories(ctx, 3, DRAFT_AT)
    clock.at = DRAFT_AT + timedelta(hours=5, minutes=59)  # down over the draft time
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "run"
    clock.advance(timedelta(minutes=1))  # a second start, or a second runner
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "nothing"
    assert [a.action for a in ctx.store.audit_log(KEY)] == ["create"]
    run = ctx.store.get_job_run("draft", KEY)
    assert run is not None and run.state is JobRunState.DONE


def test_a_draft_missed_beyond_the_grace_is_reported_not_run(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    add_stories(ctx, 3, DRAFT_AT)
    clock.at = DRAFT_AT + ctx.config.schedule.grace + timedelta(seconds=1)
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "too-late"
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "nothing"
    assert ctx.store.get_edition(KEY) is None
    assert notices(tmp_path) == [
        "[Weekly Round-Up] the draft of 2026-W48 was missed while roundup was down"
    ]


def test_an_unapproved_edition_is_not_sent_then_sent_once_approved_before_the_deadline(
    tmp_path: Path, database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", SECRET)
    with context(tmp_path, database_url, clock) as ctx:
        readers = add_subscribers(ctx, 5)
        add_stories(ctx, 3, DRAFT_AT)
        clock.at = DRAFT_AT
        jobs.draft_job(ctx, holder=HOLDER)
        clock.at = SEND_AT
        assert jobs.send_job(ctx, holder=HOLDER).decision == "wait"
        clock.advance(timedelta(minutes=1))  # the watch checks again: no second notice
        assert jobs.send_job(ctx, holder=HOLDER).decision == "wait"
        assert outbox(tmp_path) == [] and ctx.store.list_batches(KEY) == []
        assert notices(tmp_path) == ["[Weekly Round-Up] edition 2026-W48 is not approved: not sent"]
        clock.at = SEND_AT + ctx.config.schedule.send_deadline - timedelta(minutes=1)
        approve(ctx)
        assert jobs.send_job(ctx, holder=HOLDER).decision == "sent"
        assert jobs.send_job(ctx, holder=HOLDER).decision == "nothing"
        assert Counter(outbox(tmp_path)) == Counter(readers)
        summary = ctx.store.ledger_summary(KEY)
        assert summary.count(BatchState.ACCEPTED) == summary.total_batches == 3
        assert snapshot(ctx)["last_send"]["accepted"] == 3


def test_an_edition_approved_after_the_deadline_is_missed_and_ops_told(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    add_subscribers(ctx, 2)
    add_stories(ctx, 3, DRAFT_AT)
    clock.at = DRAFT_AT
    jobs.draft_job(ctx, holder=HOLDER)
    clock.at = SEND_AT
    assert jobs.send_job(ctx, holder=HOLDER).decision == "wait"
    clock.at = SEND_AT + ctx.config.schedule.send_deadline + timedelta(seconds=1)
    assert jobs.send_job(ctx, holder=HOLDER).decision == "missed"
    approve(ctx)
    assert jobs.send_job(ctx, holder=HOLDER).decision == "nothing"
    assert outbox(tmp_path) == []
    assert "send_missed" in [a.action for a in ctx.store.audit_log(KEY)]
    assert notices(tmp_path)[-1] == "[Weekly Round-Up] edition 2026-W48 missed its send"
    assert snapshot(ctx)["edition"] == {
        "key": KEY,
        "state": "approved",
        "missed": True,
        "stories": 3,
        "approved_by": "editor",
    }


def test_a_quiet_week_drafts_nothing_and_says_why(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    add_stories(ctx, ctx.config.schedule.min_stories - 1, DRAFT_AT)
    clock.at = DRAFT_AT
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "quiet"
    assert ctx.store.get_edition(KEY) is None
    assert notices(tmp_path) == ["[Weekly Round-Up] no edition for 2026-W48: a quiet week"]
    clock.at = SEND_AT  # and at send time nothing to send, and nothing more to say
    assert jobs.send_job(ctx, holder=HOLDER).decision == "nothing"
    assert len(notices(tmp_path)) == 1


def test_a_failing_feed_alerts_once_and_again_on_recovery(
    tmp_path: Path, sqlite_url: str, clock: FixedClock, feed_server: FeedServer
) -> None:
    feed_server.status("/feed.xml", 500)
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace("http://127.0.0.1:9/feed.xml", feed_server.url("/feed.xml"))
    )
    with open_context(path, database_url=sqlite_url, clock=clock) as ctx:
        for _ in range(4):  # one-off and repeated errors; the third alerts, the fourth not again
            jobs.poll_job(ctx)
            clock.advance(timedelta(days=2))  # past any backoff
        assert notices(tmp_path) == ["[Weekly Round-Up] feed main is down"]
        assert snapshot(ctx)["failing_feeds"][0]["alerted"] is True
        feed_server.feed("/feed.xml", (FEEDS / "rss20.xml").read_bytes())
        jobs.poll_job(ctx)
        jobs.poll_job(ctx)
        assert notices(tmp_path) == [
            "[Weekly Round-Up] feed main is down",
            "[Weekly Round-Up] feed main recovered",
        ]


def test_notices_reach_the_desks_ops_and_for_an_unapproved_edition_its_editors(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    from bot.accounts.users import add_user
    from bot.types import Role

    now = clock.now()
    add_user(ctx.store, "olga", Role.OPS, "a long enough password", now, email="olga@example.org")
    add_user(ctx.store, "ed", Role.EDITOR, "a long enough password", now, email="ed@example.org")
    add_user(ctx.store, "ops2", Role.OPS, "a long enough password", now, email="OPS@example.org")
    add_user(ctx.store, "nomail", Role.OPS, "a long enough password", now)
    add_stories(ctx, ctx.config.schedule.min_stories - 1, DRAFT_AT)
    clock.at = DRAFT_AT
    assert jobs.draft_job(ctx, holder=HOLDER).decision == "quiet"  # for ops only
    add_stories(ctx, 3, DRAFT_AT + timedelta(minutes=1))
    clock.at = SEND_AT - timedelta(hours=1)
    pipeline.draft(ctx, notify=False)  # drafted by hand after the quiet notice
    clock.at = SEND_AT
    assert jobs.send_job(ctx, holder=HOLDER).decision == "wait"  # editors and ops
    path = tmp_path / "outbox" / "transactional.mbox"
    sent = [(str(m["Subject"]).split("] ")[1], str(m["To"])) for m in mailbox.mbox(str(path))]
    quiet, unapproved = sent[0][0], sent[-1][0]
    # ops@example.org is written twice (a user and alerts.to): mailed once.
    assert sorted(to for subject, to in sent if subject == quiet) == [
        "OPS@example.org",
        "olga@example.org",
    ]
    assert sorted(to for subject, to in sent if subject == unapproved) == [
        "OPS@example.org",
        "ed@example.org",
        "olga@example.org",
    ]
