"""The scheduler's decisions: pure functions of `now`, the config and what the store holds.

What it does: reads a weekly time (``"thu 09:00"``) and finds its next and last
occurrence in the newsletter's timezone (daylight-saving changes included: the
wall-clock time holds, the UTC instant moves); decides whether a draft slot runs,
is caught up after downtime, or is too late (`decide_draft`); whether the week's
edition is sent, resumed, waited for or missed (`decide_send`); whether a week is
too quiet to draft (`is_quiet_week`); and whether a failing feed alerts ops or has
recovered (`feed_alert`).
What it does not do: read the clock or the store, or act. `bot.scheduler.jobs`
acts on these answers; the APScheduler adapter (`bot.scheduler.runner`) only
decides when to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.clock import ensure_utc
from bot.types import EditionState, FeedState, JobRunState

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Weekly:
    """A day of the week and a wall-clock time in a timezone."""

    weekday: int  # 0 = Monday
    hour: int
    minute: int
    tz: str

    @classmethod
    def parse(cls, text: str, tz: str) -> Weekly:
        match = _WEEKLY.match(text.strip().lower())
        if match is None:
            raise ValueError(f"expected a day and time such as 'fri 07:00', got {text!r}")
        return cls(DAYS.index(match.group(1)), int(match.group(2)), int(match.group(3)), tz)

    def on(self, day: date) -> datetime:
        """The UTC instant of this time on the local date `day` (its weekday unchecked).

        A wall-clock time that does not exist (skipped by a spring-forward change)
        fires at the same offset before the change, i.e. one hour later on the wall;
        one that exists twice fires at the first.
        """
        local = datetime.combine(day, time(self.hour, self.minute), tzinfo=ZoneInfo(self.tz))
        return local.astimezone(UTC)

    def next_after(self, after: datetime) -> datetime:
        """The first occurrence strictly after `after` (UTC)."""
        local = ensure_utc(after).astimezone(ZoneInfo(self.tz))
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        while True:
            fire = self.on(day)
            if fire > ensure_utc(after):
                return fire
            day += timedelta(days=7)

    def last_at(self, now: datetime) -> datetime:
        """The latest occurrence at or before `now` (UTC)."""
        now = ensure_utc(now)
        fire = self.next_after(now - timedelta(days=8))
        while (following := self.next_after(fire)) <= now:
            fire = following
        return fire


# --- draft ------------------------------------------------------------------------


class DraftDecision(Enum):
    RUN = "run"  # on time, or late within the grace (a catch-up)
    TOO_LATE = "too-late"  # missed by more than the grace: reported, not run
    NOTHING = "nothing"  # this slot ran (or was reported) already


def decide_draft(
    now: datetime, slot: datetime, grace: timedelta, run: JobRunState | None
) -> DraftDecision:
    """Whether the draft of `slot` runs at `now`; `run` is its recorded run, if any.

    A slot that was recorded in any state (running, done, skipped) is not run again:
    a runner that died mid-draft leaves a draft that the editors can refresh.
    """
    if run is not None:
        return DraftDecision.NOTHING
    if ensure_utc(now) - ensure_utc(slot) > grace:
        return DraftDecision.TOO_LATE
    return DraftDecision.RUN


def is_quiet_week(new_stories: int, min_stories: int) -> bool:
    """Too few new stories to make an edition worth sending."""
    return new_stories < min_stories


# --- send -------------------------------------------------------------------------


class SendDecision(Enum):
    SEND = "send"  # approved, in time: send it
    RESUME = "resume"  # a send stopped part-way: finish it through the ledger
    WAIT = "wait"  # not approved yet, the deadline not passed: notify, check again
    MISSED = "missed"  # the deadline passed unsent: mark it missed, tell ops
    TOO_LATE = "too-late"  # the send time passed while roundup was down, beyond the grace
    NOTHING = "nothing"  # sent, rejected, or this slot already settled


_SETTLED = (JobRunState.DONE, JobRunState.SKIPPED, JobRunState.MISSED, JobRunState.FAILED)


def decide_send(
    now: datetime,
    slot: datetime,
    *,
    grace: timedelta,
    deadline: timedelta,
    state: EditionState | None,
    run: JobRunState | None,
    quiet: bool = False,
) -> SendDecision:
    """What to do about the edition of the send time `slot` at `now`.

    `state` is the edition's state (None: there is no edition); `run` is the
    recorded run of this send slot (None: no runner has looked at it yet, so a
    runner starting now is catching up after downtime and the grace applies);
    `quiet` says the week drafted nothing on purpose (ops were told then).
    """
    late = ensure_utc(now) - ensure_utc(slot)
    if state is None and (quiet or (run is None and late > grace)):
        return SendDecision.NOTHING  # nothing was there to send: nothing to report
    if state is EditionState.SENT or state is EditionState.REJECTED:
        return SendDecision.NOTHING
    if state is EditionState.SENDING:
        # Whatever the hour: it went out to some already. A send that ended with
        # failed batches is left to ops (`roundup send --resume`), not retried
        # every minute.
        return SendDecision.NOTHING if run is JobRunState.FAILED else SendDecision.RESUME
    if run in _SETTLED:
        return SendDecision.NOTHING
    if run is None and late > grace:
        return SendDecision.TOO_LATE
    if late > deadline:
        return SendDecision.MISSED
    if state is EditionState.APPROVED:
        return SendDecision.SEND
    return SendDecision.WAIT


# --- feeds ------------------------------------------------------------------------


class FeedAlert(Enum):
    DOWN = "down"
    RECOVERED = "recovered"
    NONE = "none"


def feed_alert(
    feed: FeedState,
    *,
    alerted: bool,
    now: datetime,
    failures: int,
    down_for: timedelta,
    known_since: datetime | None = None,
) -> FeedAlert:
    """Whether a feed's state calls for a "down" or "recovered" alert at `now`.

    Down: `failures` polls in a row failed, or the feed has failed more than once
    and not succeeded for `down_for` (counted from its last success, else from when
    it was first known). A single failure never alerts. Each alert goes out once:
    `alerted` says a down alert is standing.
    """
    failing = feed.consecutive_failures
    if alerted:
        return FeedAlert.RECOVERED if failing == 0 else FeedAlert.NONE
    if failing >= failures:
        return FeedAlert.DOWN
    since = feed.last_success or known_since
    if failing >= 2 and since is not None and ensure_utc(now) - ensure_utc(since) >= down_for:
        return FeedAlert.DOWN
    return FeedAlert.NONE
