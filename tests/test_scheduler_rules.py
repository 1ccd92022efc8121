"""The scheduler's decisions as tables: weekly times across daylight-saving changes,
catch-up within the grace, send or wait or missed, quiet weeks, feed alerts. The
weekly times are checked against APScheduler's own trigger, the one `roundup run`
fires by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduler.rules import (
    DraftDecision,
    FeedAlert,
    SendDecision,
    Weekly,
    decide_draft,
    decide_send,
    feed_alert,
    is_quiet_week,
)
from bot.scheduler.runner import trigger_next
from bot.types import EditionState, FeedState, JobRunState

NY = "America/New_York"
S = EditionState
R = JobRunState


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# New York left summer time on Sunday 2026-11-01 and entered it on Sunday 2026-03-08.
@pytest.mark.parametrize(
    ("spec", "after", "fire"),
    [
        ("thu 09:00", utc(2026, 10, 27), utc(2026, 10, 29, 13)),  # EDT, UTC-4
        ("thu 09:00", utc(2026, 10, 29, 13), utc(2026, 11, 5, 14)),  # EST, UTC-5
        ("fri 07:00", utc(2026, 10, 29), utc(2026, 10, 30, 11)),
        ("fri 07:00", utc(2026, 10, 30, 11), utc(2026, 11, 6, 12)),
        ("thu 09:00", utc(2026, 3, 1), utc(2026, 3, 5, 14)),  # EST
        ("thu 09:00", utc(2026, 3, 5, 14), utc(2026, 3, 12, 13)),  # EDT
        ("fri 07:00", utc(2026, 11, 27, 11, 59), utc(2026, 11, 27, 12)),  # a minute before
        ("sun 01:30", utc(2026, 10, 31), utc(2026, 11, 1, 5, 30)),  # twice that night: the first
    ],
)
def test_weekly_time_holds_local_time_across_dst(
    spec: str, after: datetime, fire: datetime
) -> None:
    weekly = Weekly.parse(spec, NY)
    assert weekly.next_after(after) == fire
    assert trigger_next(weekly, after) == fire  # APScheduler agrees
    assert weekly.last_at(fire) == fire
    before = weekly.last_at(fire - timedelta(seconds=1))
    assert fire - timedelta(days=7, hours=1) <= before < fire - timedelta(days=6, hours=22)


def test_a_time_skipped_by_spring_forward_fires_an_hour_later_on_the_wall() -> None:
    weekly = Weekly.parse("sun 02:30", NY)
    assert weekly.next_after(utc(2026, 3, 7)) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_last_at_walks_back_over_a_dst_week() -> None:
    weekly = Weekly.parse("thu 09:00", NY)
    assert weekly.last_at(utc(2026, 11, 5, 13, 59)) == utc(2026, 10, 29, 13)
    assert weekly.last_at(utc(2026, 11, 5, 14)) == utc(2026, 11, 5, 14)


@pytest.mark.parametrize("bad", ["thursday 9:00", "thu 24:00", "", "fri 7:00"])
def test_bad_weekly_time_says_what_it_expects(bad: str) -> None:
    with pytest.raises(ValueError, match="such as 'fri 07:00'"):
        Weekly.parse(bad, NY)


SLOT = utc(2026, 11, 26, 14)
GRACE = timedelta(hours=6)


@pytest.mark.parametrize(
    ("late", "run", "decision"),
    [
        (timedelta(0), None, DraftDecision.RUN),
        (timedelta(hours=5, minutes=59), None, DraftDecision.RUN),  # a catch-up
        (GRACE, None, DraftDecision.RUN),  # the edge: within
        (GRACE + timedelta(seconds=1), None, DraftDecision.TOO_LATE),
        (timedelta(0), R.DONE, DraftDecision.NOTHING),
        (timedelta(0), R.RUNNING, DraftDecision.NOTHING),
        (timedelta(days=2), R.SKIPPED, DraftDecision.NOTHING),
    ],
)
def test_decide_draft(late: timedelta, run: JobRunState | None, decision: DraftDecision) -> None:
    assert decide_draft(SLOT + late, SLOT, GRACE, run) is decision


DEADLINE = timedelta(hours=12)


@pytest.mark.parametrize(
    ("late", "state", "run", "decision"),
    [
        (timedelta(0), S.APPROVED, None, SendDecision.SEND),
        (timedelta(0), S.DRAFT, None, SendDecision.WAIT),
        (timedelta(0), None, None, SendDecision.WAIT),  # no edition at all
        (timedelta(hours=2), S.APPROVED, R.RUNNING, SendDecision.SEND),  # approved late
        (DEADLINE, S.APPROVED, R.RUNNING, SendDecision.SEND),  # the edge: within
        (DEADLINE + timedelta(seconds=1), S.APPROVED, R.RUNNING, SendDecision.MISSED),
        (DEADLINE + timedelta(seconds=1), S.DRAFT, R.RUNNING, SendDecision.MISSED),
        (timedelta(hours=5), S.APPROVED, None, SendDecision.SEND),  # catch-up within grace
        (timedelta(hours=7), S.APPROVED, None, SendDecision.TOO_LATE),  # down too long
        (timedelta(days=3), S.APPROVED, R.MISSED, SendDecision.NOTHING),
        (timedelta(days=3), S.APPROVED, R.SKIPPED, SendDecision.NOTHING),
        (timedelta(days=3), S.SENDING, R.RUNNING, SendDecision.RESUME),  # finish it, always
        (timedelta(days=3), S.SENDING, None, SendDecision.RESUME),
        (timedelta(0), S.SENDING, R.FAILED, SendDecision.NOTHING),  # left to ops
        (timedelta(0), S.SENT, R.DONE, SendDecision.NOTHING),
        (timedelta(0), S.REJECTED, None, SendDecision.NOTHING),
        (timedelta(hours=7), None, None, SendDecision.NOTHING),  # down, and nothing to send
    ],
)
def test_decide_send(
    late: timedelta, state: EditionState | None, run: JobRunState | None, decision: SendDecision
) -> None:
    got = decide_send(SLOT + late, SLOT, grace=GRACE, deadline=DEADLINE, state=state, run=run)
    assert got is decision


def test_a_quiet_week_has_nothing_to_send_and_says_so_once() -> None:
    quiet = decide_send(
        SLOT, SLOT, grace=GRACE, deadline=DEADLINE, state=None, run=None, quiet=True
    )
    assert quiet is SendDecision.NOTHING


@pytest.mark.parametrize(
    ("stories", "minimum", "quiet"), [(0, 3, True), (2, 3, True), (3, 3, False), (0, 0, False)]
)
def test_quiet_week(stories: int, minimum: int, quiet: bool) -> None:
    assert is_quiet_week(stories, minimum) is quiet


NOW = utc(2026, 11, 30, 12)


def feed(failures: int, last_success: datetime | None = None) -> FeedState:
    return FeedState("main", "u", "u", consecutive_failures=failures, last_success=last_success)


@pytest.mark.parametrize(
    ("state", "alerted", "alert"),
    [
        (feed(0, NOW), False, FeedAlert.NONE),
        (feed(1, NOW - timedelta(days=30)), False, FeedAlert.NONE),  # one-off: quiet
        (feed(2, NOW - timedelta(hours=1)), False, FeedAlert.NONE),
        (feed(3, NOW - timedelta(hours=1)), False, FeedAlert.DOWN),  # alerts.feed_failures
        (feed(2, NOW - timedelta(hours=6)), False, FeedAlert.DOWN),  # alerts.feed_down_for
        (feed(2, NOW - timedelta(hours=5, minutes=59)), False, FeedAlert.NONE),
        (feed(9, NOW - timedelta(days=2)), True, FeedAlert.NONE),  # said once already
        (feed(0, NOW), True, FeedAlert.RECOVERED),
    ],
)
def test_feed_alert(state: FeedState, alerted: bool, alert: FeedAlert) -> None:
    got = feed_alert(state, alerted=alerted, now=NOW, failures=3, down_for=timedelta(hours=6))
    assert got is alert
