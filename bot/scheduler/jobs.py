"""The scheduler's jobs: poll (with feed alerts), draft, send.

What it does: runs each job once for `ctx.clock.now()`, asking `rules` what to do
and recording the run of each draft and send slot in the store (one row per slot:
of two runners, or a runner and its restart, one acts); notifies ops of what they
must know (an unapproved edition at send time, a missed send, a quiet week, a
catch-up too late, a feed down or recovered). A send gets a stop event: when it
is set, the send stops after the batch in flight and the next runner resumes it
through the ledger.
What it does not do: decide when jobs run (`bot.scheduler.runner`), or send any
other way than `bot.pipeline.send`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from bot import pipeline
from bot.context import Context
from bot.edition.drafting import MAX_WINDOW_STORIES
from bot.edition.weeks import edition_window, week_key
from bot.errors import EditionError, LeaseError
from bot.scheduler.notify import Notice, notify
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
from bot.types import AuditEntry, EditionState, JobRunState

log = logging.getLogger("bot.scheduler")

SCHEDULER = "scheduler"  # the actor of scheduled runs in the audit log and job runs
OPS_KEY = pipeline.OPS_KEY  # the audit log's key for actions on no one edition
DRAFT, SEND = "draft", "send"


@dataclass(frozen=True)
class Outcome:
    job: str
    decision: str
    slot: str = ""
    detail: str = ""
    failed: bool = False  # the job ran, and part of it failed (a feed down, a batch)


def draft_slot(ctx: Context, now: datetime) -> datetime:
    return Weekly.parse(ctx.config.schedule.draft, ctx.config.newsletter.timezone).last_at(now)


def send_slot(ctx: Context, now: datetime) -> datetime:
    return Weekly.parse(ctx.config.schedule.send, ctx.config.newsletter.timezone).last_at(now)


# --- poll and feed alerts -----------------------------------------------------------


def poll_job(ctx: Context, *, actor: str = SCHEDULER) -> pipeline.PollReport:
    """Poll every due feed (paused ones not), then alert on feeds down or recovered."""
    report = pipeline.poll(ctx)
    check_feed_alerts(ctx)
    if actor != SCHEDULER:
        audit(ctx, OPS_KEY, actor, "poll_now", {"feeds": len(report.feeds), "new": report.new})
    return report


def check_feed_alerts(ctx: Context) -> list[Notice]:
    """Alert once for each feed that went down, and once when it recovers."""
    now, alerts = ctx.clock.now(), ctx.config.alerts
    flags = ctx.store.feed_flags()
    configured = {f.name for f in ctx.config.feeds}
    sent: list[Notice] = []
    for feed in ctx.store.feed_states():
        flag = flags.get(feed.name)
        if feed.name not in configured or (flag is not None and flag.paused):
            continue
        alerted = flag is not None and flag.alerted_at is not None
        verdict = feed_alert(
            feed,
            alerted=alerted,
            now=now,
            failures=alerts.feed_failures,
            down_for=alerts.feed_down_for,
        )
        if verdict is FeedAlert.DOWN:
            ctx.store.set_feed_alerted(feed.name, now, now=now)
            notice = Notice(
                "feed-down",
                f"feed {feed.name} is down",
                f"The feed {feed.name} ({feed.url}) failed {feed.consecutive_failures} polls "
                f"in a row; last error: {feed.last_error or 'unknown'}. "
                f"Check it with `roundup feeds`; pause it with `roundup feeds pause {feed.name}`.",
            )
        elif verdict is FeedAlert.RECOVERED:
            ctx.store.set_feed_alerted(feed.name, None, now=now)
            notice = Notice(
                "feed-recovered",
                f"feed {feed.name} recovered",
                f"The feed {feed.name} ({feed.url}) is fetched again.",
            )
        else:
            continue
        notify(ctx, notice)
        sent.append(notice)
    return sent


# --- draft ---------------------------------------------------------------------------


def new_stories(ctx: Context, now: datetime) -> int:
    """How many stories the week's draft would take: in its window and never sent."""
    carried = ctx.store.list_editions(states=[EditionState.SENDING, EditionState.SENT])
    cutoff = max((e.window_end for e in carried), default=None)
    start, end = edition_window(now, cutoff, ctx.config.newsletter.timezone)
    gone = ctx.store.sent_item_keys()
    found = ctx.store.list_items(since=start, until=end, limit=MAX_WINDOW_STORIES)
    return sum(1 for s in found if s.key not in gone)


def draft_job(ctx: Context, *, holder: str) -> Outcome:
    """The scheduled draft of the latest draft time, once, within the grace."""
    now, schedule = ctx.clock.now(), ctx.config.schedule
    slot = draft_slot(ctx, now)
    week = week_key(slot, ctx.config.newsletter.timezone)
    run = ctx.store.get_job_run(DRAFT, week)
    decision = decide_draft(now, slot, schedule.grace, run.state if run else None)
    if decision is DraftDecision.NOTHING:
        return Outcome(DRAFT, decision.value, week)
    if decision is DraftDecision.TOO_LATE:
        if _record(ctx, DRAFT, week, holder, JobRunState.SKIPPED, reason="too-late"):
            notify(
                ctx, _too_late("draft", week, slot, now, "draft it with `roundup trigger draft`")
            )
        return Outcome(DRAFT, decision.value, week)
    if not _record(ctx, DRAFT, week, holder, JobRunState.RUNNING):
        return Outcome(DRAFT, "taken", week)  # another runner got there first
    stories = new_stories(ctx, now)
    if is_quiet_week(stories, schedule.min_stories):
        ctx.store.finish_job_run(
            DRAFT,
            week,
            JobRunState.SKIPPED,
            now=now,
            detail={"reason": "quiet", "stories": stories},
        )
        notify(
            ctx,
            Notice(
                "quiet-week",
                f"no edition for {week}: a quiet week",
                f"Only {stories} new stor{'y' if stories == 1 else 'ies'} this week, fewer than "
                f"schedule.min_stories ({schedule.min_stories}), so no edition was drafted. "
                "Draft one anyway with `roundup trigger draft`.",
            ),
        )
        return Outcome(DRAFT, "quiet", week, f"{stories} stories")
    try:
        edition = pipeline.draft(ctx, week=week, actor=SCHEDULER)
    except EditionError as exc:  # already approved or sent: leave it be
        ctx.store.finish_job_run(DRAFT, week, JobRunState.DONE, now=now, detail={"note": str(exc)})
        return Outcome(DRAFT, "unchanged", week, str(exc))
    except Exception as exc:
        ctx.store.finish_job_run(
            DRAFT, week, JobRunState.FAILED, now=now, detail={"error": str(exc)}
        )
        raise
    count = sum(1 for e in edition.entries if not e.excluded)
    ctx.store.finish_job_run(DRAFT, week, JobRunState.DONE, now=now, detail={"stories": count})
    log.info("drafted edition %s with %d stories", week, count)
    return Outcome(DRAFT, decision.value, week, f"{count} stories")


# --- send ----------------------------------------------------------------------------


def send_job(ctx: Context, *, holder: str, stop: threading.Event | None = None) -> Outcome:
    """Send the week's approved edition at or after the send time, up to the deadline."""
    now, schedule, tz = ctx.clock.now(), ctx.config.schedule, ctx.config.newsletter.timezone
    slot = send_slot(ctx, now)
    key, deadline = week_key(slot, tz), slot + schedule.send_deadline
    edition = ctx.store.get_edition(key)
    run = ctx.store.get_job_run(SEND, key)
    drafted = ctx.store.get_job_run(DRAFT, key)
    decision = decide_send(
        now,
        slot,
        grace=schedule.grace,
        deadline=schedule.send_deadline,
        state=edition.state if edition else None,
        run=run.state if run else None,
        quiet=drafted is not None and drafted.detail.get("reason") == "quiet",
    )
    if decision in (SendDecision.SEND, SendDecision.RESUME):
        _record(ctx, SEND, key, holder, JobRunState.RUNNING)
        return _send(ctx, key, resume=decision is SendDecision.RESUME, stop=stop)
    if decision is SendDecision.WAIT:
        if _record(ctx, SEND, key, holder, JobRunState.RUNNING, waiting=True):
            state = edition.state.value if edition else "not drafted"
            notify(
                ctx,
                Notice(
                    "unapproved",
                    f"edition {key} is not approved: not sent",
                    f"It is send time, and edition {key} is {state}. Nothing was sent. It goes "
                    f"out as soon as an editor approves it, until {_local(deadline, tz)}; "
                    "after that it is marked missed.",
                ),
            )
    elif decision is SendDecision.MISSED:
        if run is None:
            _record(ctx, SEND, key, holder, JobRunState.MISSED)
        else:
            ctx.store.finish_job_run(SEND, key, JobRunState.MISSED, now=now)
        audit(
            ctx,
            key,
            SCHEDULER,
            "send_missed",
            {"deadline": deadline.isoformat()},
        )
        notify(
            ctx,
            Notice(
                "missed",
                f"edition {key} missed its send",
                f"Edition {key} was not approved by the send deadline "
                f"({_local(deadline, tz)}) and is marked missed; "
                f"nothing was sent. Send it by hand with `roundup send {key}` once approved.",
            ),
        )
    elif decision is SendDecision.TOO_LATE and _record(
        ctx, SEND, key, holder, JobRunState.SKIPPED, reason="too-late"
    ):
        notify(ctx, _too_late("send", key, slot, now, f"send it with `roundup send {key}`"))
    return Outcome(SEND, decision.value, key)


def _send(ctx: Context, key: str, *, resume: bool, stop: threading.Event | None) -> Outcome:
    from bot.send import make_transport

    now = ctx.clock.now()
    transport = make_transport(ctx)
    try:
        report = pipeline.send(ctx, key, transport=transport, resume=resume, stop=stop)
    except LeaseError as exc:  # another process sends it: the ledger keeps it once
        log.info("%s", exc)
        return Outcome(SEND, "busy", key)
    except Exception as exc:
        ctx.store.finish_job_run(SEND, key, JobRunState.FAILED, now=now, detail={"error": str(exc)})
        raise
    finally:
        transport.close()
    if report.stopped:
        log.warning(
            "the send of %s stopped after its batch in flight; the next runner resumes it", key
        )
        return Outcome(SEND, "stopped", key)
    summary = {
        "recipients": report.recipients,
        "batches": report.batches,
        "accepted": report.accepted,
        "failed": report.failed,
        "ambiguous": report.ambiguous,
        "pending": report.pending,
    }
    state = JobRunState.DONE if report.ok else JobRunState.FAILED
    ctx.store.finish_job_run(SEND, key, state, now=ctx.clock.now(), detail=summary)
    if not report.ok:
        notify(
            ctx,
            Notice(
                "send-incomplete",
                f"edition {key} was not sent to everyone",
                f"{report.failed} batch(es) failed and {report.ambiguous} may or may not have gone "
                f"out. Check `roundup editions`, then `roundup send {key} --resume`. "
                + "; ".join(report.errors[:5]),
            ),
        )
    done = f"{report.accepted}/{report.batches} batches"
    return Outcome(SEND, "resumed" if resume else "sent", key, done, failed=not report.ok)


def send_now(ctx: Context, key: str, *, resume: bool) -> Outcome:
    """Send (or resume) edition `key` now, outside the schedule."""
    return _send(ctx, key, resume=resume, stop=None)


def audit(ctx: Context, key: str, actor: str, action: str, detail: dict[str, object]) -> None:
    ctx.store.append_audit(AuditEntry(key, ctx.clock.now(), actor, action, detail))


def _record(
    ctx: Context, job: str, slot: str, holder: str, state: JobRunState, **detail: object
) -> bool:
    return ctx.store.start_job_run(
        job, slot, actor=SCHEDULER, holder=holder, now=ctx.clock.now(), state=state, detail=detail
    )


def _too_late(what: str, key: str, slot: datetime, now: datetime, hint: str) -> Notice:
    late = now - slot
    hours = late.total_seconds() / 3600
    return Notice(
        "too-late",
        f"the {what} of {key} was missed while roundup was down",
        f"The {what} of {key} was due at {slot.isoformat()}, {hours:.1f} hours ago, more than "
        f"schedule.grace allows, so it was not run on start; {hint}.",
    )


def _local(at: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")
