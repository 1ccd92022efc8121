"""Edition keys, week bounds, the draft window and the transition table (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.edition import (
    Action,
    allowed,
    edition_window,
    parse_week,
    transition,
    week_bounds,
    week_key,
)
from bot.edition.states import TRANSITIONS
from bot.edition.weeks import normalise_key
from bot.errors import EditionError, UsageError
from bot.types import EditionState as S


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "tz", "key"),
    [
        (utc(2026, 11, 24, 12), "UTC", "2026-W48"),
        (utc(2026, 12, 31, 12), "UTC", "2026-W53"),  # 2026 has 53 ISO weeks
        (utc(2027, 1, 3, 23, 59), "UTC", "2026-W53"),  # Sunday of that week
        (utc(2027, 1, 4, 0, 0), "UTC", "2027-W01"),
        (utc(2024, 12, 30, 9), "UTC", "2025-W01"),  # a Monday that belongs to next year
        (utc(2021, 1, 3, 9), "UTC", "2020-W53"),  # a Sunday that belongs to last year
        # Monday 03:30 UTC is still Sunday evening in New York: the week before.
        (utc(2026, 11, 30, 3, 30), "America/New_York", "2026-W48"),
        (utc(2026, 11, 30, 3, 30), "UTC", "2026-W49"),
        # Sunday 20:00 UTC is already Monday in Tokyo: the week after.
        (utc(2026, 11, 29, 20), "Asia/Tokyo", "2026-W49"),
        (utc(2026, 11, 29, 14, 59), "Asia/Tokyo", "2026-W48"),
        (utc(2026, 11, 29, 15, 0), "Asia/Tokyo", "2026-W49"),  # local midnight exactly
        # 2027-01-04 04:59 UTC is 23:59 on Sunday 3 January in New York: still W53.
        (utc(2027, 1, 4, 4, 59), "America/New_York", "2026-W53"),
        (utc(2027, 1, 4, 5, 0), "America/New_York", "2027-W01"),
    ],
)
def test_week_key(now: datetime, tz: str, key: str) -> None:
    assert week_key(now, tz) == key


def test_week_key_takes_naive_time_as_utc() -> None:
    assert week_key(datetime(2026, 11, 30, 3, 30), "America/New_York") == "2026-W48"


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("2026-W48", (2026, 48)),
        ("2026-W01", (2026, 1)),
        ("2026-W53", (2026, 53)),
        ("2020-W53", (2020, 53)),
        ("2026-w48", (2026, 48)),
        (" 2026-W48 ", (2026, 48)),
    ],
)
def test_parse_week(key: str, parsed: tuple[int, int]) -> None:
    assert parse_week(key) == parsed


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2026-48", "expected an ISO week such as 2026-W48"),
        ("2026-W4", "two-digit week"),
        ("26-W48", "four-digit year"),
        ("2026W48", "expected an ISO week"),
        ("", "expected an ISO week"),
        ("2026-W48; drop table", "expected an ISO week"),
        ("2026-W00", "2026 has ISO weeks 01 to 53"),
        ("2026-W54", "2026 has ISO weeks 01 to 53"),
        ("2025-W53", "2025 has ISO weeks 01 to 52"),
        ("0000-W01", "0001 or later"),
    ],
)
def test_parse_week_rejects_bad_keys_clearly(key: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_week(key)
    assert info.value.exit_code == 2
    assert repr(key) in str(info.value)


def test_normalise_key() -> None:
    assert normalise_key("2026-w05") == "2026-W05"


@pytest.mark.parametrize(
    ("key", "tz", "start", "end"),
    [
        ("2026-W48", "UTC", utc(2026, 11, 23), utc(2026, 11, 30)),
        ("2026-W53", "UTC", utc(2026, 12, 28), utc(2027, 1, 4)),
        ("2026-W48", "America/New_York", utc(2026, 11, 23, 5), utc(2026, 11, 30, 5)),
        # The week of the DST change (1 November 2026 is its Sunday): 169 hours.
        ("2026-W44", "America/New_York", utc(2026, 10, 26, 4), utc(2026, 11, 2, 5)),
        ("2026-W48", "Asia/Tokyo", utc(2026, 11, 22, 15), utc(2026, 11, 29, 15)),
    ],
)
def test_week_bounds(key: str, tz: str, start: datetime, end: datetime) -> None:
    assert week_bounds(key, tz) == (start, end)
    assert week_key(start, tz) == key
    assert week_key(end - timedelta(microseconds=1), tz) == key
    assert week_key(end, tz) != key


def test_unknown_timezone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown timezone 'Mars/Olympus'"):
        week_key(utc(2026, 11, 24), "Mars/Olympus")


NOW = utc(2026, 11, 26, 14)


@pytest.mark.parametrize(
    ("now", "last_sent", "tz", "window"),
    [
        # The first edition: the last seven days.
        (NOW, None, "UTC", (utc(2026, 11, 19, 14), NOW)),
        # Seven calendar days in New York span the DST change: 169 hours in UTC.
        (
            utc(2026, 11, 3, 12),
            None,
            "America/New_York",
            (utc(2026, 10, 27, 11), utc(2026, 11, 3, 12)),
        ),
        # After a sent edition: from its cut-off, however long ago.
        (NOW, utc(2026, 11, 20, 12), "UTC", (utc(2026, 11, 20, 12), NOW)),
        (NOW, utc(2026, 11, 1, 12), "UTC", (utc(2026, 11, 1, 12), NOW)),
        # A cut-off in the future (clock set back) gives an empty window.
        (NOW, utc(2026, 11, 27), "UTC", (NOW, NOW)),
        # Naive times are UTC.
        (
            datetime(2026, 11, 26, 14),
            datetime(2026, 11, 20, 12),
            "UTC",
            (utc(2026, 11, 20, 12), NOW),
        ),
    ],
)
def test_edition_window(
    now: datetime, last_sent: datetime | None, tz: str, window: tuple[datetime, datetime]
) -> None:
    start, end = edition_window(now, last_sent, tz)
    assert (start, end) == window
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert start <= end


# --- the transition table ---------------------------------------------------

ALLOWED = [
    (S.DRAFT, Action.REFRESH, S.DRAFT),
    (S.DRAFT, Action.EDIT, S.DRAFT),
    (S.DRAFT, Action.APPROVE, S.APPROVED),
    (S.DRAFT, Action.REJECT, S.REJECTED),
    (S.APPROVED, Action.EDIT, S.DRAFT),  # an edit voids the approval
    (S.APPROVED, Action.REJECT, S.REJECTED),
    (S.APPROVED, Action.SEND, S.SENDING),
    (S.SENDING, Action.SEND, S.SENDING),  # resume
    (S.SENDING, Action.SENT, S.SENT),
    (S.REJECTED, Action.REOPEN, S.DRAFT),
]


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED)
def test_allowed_transitions(state: S, action: Action, after: S) -> None:
    assert transition(state, action) is after
    assert allowed(state, action)


REFUSED = [
    (state, action)
    for state in S
    for action in Action
    if (state, action) not in {(s, a) for s, a, _ in ALLOWED}
]


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_every_other_transition_is_refused(state: S, action: Action) -> None:
    with pytest.raises(EditionError, match=f"edition 2026-W48 is {state.value}; "):
        transition(state, action, "2026-W48")
    assert not allowed(state, action)


@pytest.mark.parametrize(
    ("state", "action", "hint"),
    [
        (S.DRAFT, Action.SEND, "approve it first"),
        (S.APPROVED, Action.APPROVE, "edit it \\(which returns it to draft\\) or reject it"),
        (S.APPROVED, Action.REFRESH, "edit it"),
        (S.SENT, Action.EDIT, "has been sent and cannot change"),
        (S.SENDING, Action.EDIT, "--resume"),
        (S.REJECTED, Action.APPROVE, "reopen it as a draft first"),
    ],
)
def test_refusals_say_what_to_do(state: S, action: Action, hint: str) -> None:
    with pytest.raises(EditionError, match=hint):
        transition(state, action)


def test_table_covers_exactly_the_documented_moves() -> None:
    assert len(TRANSITIONS) == len(ALLOWED)
    assert len(REFUSED) == len(S) * len(Action) - len(ALLOWED)
