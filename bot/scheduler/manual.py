"""Manual actions: ops run a job now, by name (pausing a feed is `pipeline.set_feed_paused`).

What it does: runs poll, draft (this week's), send (this week's approved edition)
or resume (a send that stopped part-way) at once, outside the schedule, and
each is recorded in the audit log with who did it
(polls and feeds under the key ``ops``, the rest under the edition's key).
What it does not do: check the schedule or the scheduler's lease; a send still
takes its own lease and goes through the ledger, so it never doubles a send the
scheduler is making.
"""

from __future__ import annotations

from bot import pipeline
from bot.context import Context
from bot.edition.weeks import week_key
from bot.errors import NotFoundError, UsageError
from bot.scheduler.jobs import DRAFT, Outcome, audit, poll_job, send_now
from bot.types import EditionState


def manual(ctx: Context, job: str, *, actor: str) -> Outcome:
    """Run `job` (poll, draft, send, resume) now, by hand; recorded with `actor`."""
    now = ctx.clock.now()
    key = week_key(now, ctx.config.newsletter.timezone)
    if job == "poll":
        report = poll_job(ctx, actor=actor)
        detail = f"{len(report.feeds)} feeds, {report.new} new, {report.failed} failed"
        return Outcome("poll", "polled", "", detail, failed=report.failed > 0)
    if job == "draft":
        edition = pipeline.draft(ctx, actor=actor)
        audit(ctx, edition.key, actor, "draft_now", {})
        return Outcome(DRAFT, "drafted", edition.key, f"{len(edition.entries)} entries")
    if job in ("send", "resume"):
        if job == "resume":
            key = _sending(ctx)
        audit(ctx, key, actor, f"{job}_now", {})
        outcome = send_now(ctx, key, resume=job == "resume")
        return Outcome(job, outcome.decision, key, outcome.detail, outcome.failed)
    raise UsageError(f"unknown job {job!r}: use poll, draft, send or resume")


def _sending(ctx: Context) -> str:
    sending = ctx.store.list_editions(states=[EditionState.SENDING])
    if not sending:
        raise NotFoundError("no edition is part-way through a send: there is nothing to resume")
    return sending[0].key
