"""The APScheduler adapter: when jobs run, and which process runs them.

What it does: builds an APScheduler 3 `BackgroundScheduler` in the newsletter's
timezone with the config's jobs (poll every ``schedule.poll_every``; draft and send
at their weekly local times, daylight-saving changes included; a check every
minute that sends a late-approved edition up to ``schedule.send_deadline``). Jobs
run one at a time on one worker thread. ``coalesce`` folds runs that piled up into
one, and ``misfire_grace_time`` is ``schedule.grace`` for the weekly jobs, not
APScheduler's 1 second, so a run delayed by a long job or a suspended machine still
happens. The main loop holds the ``scheduler`` lease (`bot.lease`): only the holder
runs jobs; a standby claims the lease every second and takes over when it lapses,
or at once when its holder was a process on this host that has ended. Taking the
lease runs the catch-up: a poll, and the draft and send whose time passed while no
one held it (within ``schedule.grace``; `bot.scheduler.rules` decides). `stop` (on
SIGTERM or SIGINT) stops taking jobs, lets the running one finish its step (a send
stops after its batch in flight), releases the lease and returns.
What it does not do: decide what a job does (`bot.scheduler.jobs`), or install
signal handlers (the CLI does). This is the only module that imports apscheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import pipeline
from bot.context import Context
from bot.lease import Holder, LeaseKeeper, claim, this_process
from bot.scheduler import jobs
from bot.scheduler.rules import DAYS, Weekly

log = logging.getLogger("bot.scheduler")

LEASE = "scheduler"
STANDBY_CHECK = 1.0  # seconds between a standby's claims (a read, unless it may take)
WATCH_EVERY = timedelta(minutes=1)  # how soon a late approval is sent
# Jobs beside the weekly ones, each a function of the context run every minute:
# the confirmation mails that sign-ups queued (also sent by `roundup serve`; a claim
# in the store keeps two senders from sending one mail twice).
EXTRA_JOBS: tuple[tuple[str, Callable[[Context], object], timedelta], ...] = (
    ("confirmations", pipeline.send_confirmations, timedelta(minutes=1)),
)


def weekly_trigger(spec: Weekly) -> CronTrigger:
    return CronTrigger(
        day_of_week=DAYS[spec.weekday],
        hour=spec.hour,
        minute=spec.minute,
        timezone=ZoneInfo(spec.tz),
    )


def trigger_next(spec: Weekly, after: datetime) -> datetime | None:
    """When APScheduler fires `spec` next after `after` (to check it against the rules)."""
    # APScheduler's "next" includes `after` itself; the rules' is strictly later.
    fire: datetime | None = weekly_trigger(spec).get_next_fire_time(
        None, after + timedelta(microseconds=1)
    )
    return fire.astimezone(UTC) if fire else None


class Runner:
    """One `roundup run` scheduler: see the module docstring."""

    def __init__(self, ctx: Context, *, holder: Holder | None = None) -> None:
        self.ctx = ctx
        self.me = holder or this_process()
        schedule, tz = ctx.config.schedule, ctx.config.newsletter.timezone
        self.ttl = schedule.lease_ttl
        self.stopping = threading.Event()  # set by `stop`; a send checks it between batches
        self.active = threading.Event()  # we hold the lease and run jobs
        self.keeper: LeaseKeeper | None = None
        self.store_ok = True
        self._waiting_on: str | None = None
        self._ran = threading.Event()  # a job ran: note the next run times
        self.scheduler = BackgroundScheduler(
            timezone=ZoneInfo(tz),
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        grace = int(schedule.grace.total_seconds())
        every = schedule.poll_every
        self._add("poll", self._poll, IntervalTrigger(seconds=int(every.total_seconds())), every)
        for name, spec in (("draft", schedule.draft), ("send", schedule.send)):
            trigger = weekly_trigger(Weekly.parse(spec, tz))
            self.scheduler.add_job(
                self._guard(name, getattr(self, f"_{name}")),
                trigger,
                id=name,
                name=name,
                misfire_grace_time=grace,
            )
        self._add("send-watch", self._send, IntervalTrigger(seconds=60), WATCH_EVERY)
        for name, fn, period in EXTRA_JOBS:
            self._add(name, partial(fn, self.ctx), IntervalTrigger(seconds=60), period)

    def _add(self, name: str, fn: Callable[[], object], trigger: Any, grace: timedelta) -> None:
        self.scheduler.add_job(
            self._guard(name, fn),
            trigger,
            id=name,
            name=name,
            misfire_grace_time=max(int(grace.total_seconds()), 1),
        )

    # --- the jobs, as the holder runs them -------------------------------------------

    def _poll(self) -> object:
        report = jobs.poll_job(self.ctx)
        return f"{len(report.feeds)} feeds polled, {report.new} new, {report.failed} failed"

    def _draft(self) -> object:
        return jobs.draft_job(self.ctx, holder=self.me.encode())

    def _send(self) -> object:
        return jobs.send_job(self.ctx, holder=self.me.encode(), stop=self.stopping)

    def _catch_up(self) -> object:
        """On taking the lease: poll, then the draft and send that are due or late."""
        return [self._poll(), self._draft(), self._send()]

    def _guard(self, name: str, fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            if not self.acting():
                return
            try:
                outcome = fn()
                log.info("job %s: %s", name, outcome, extra={"job": name})
            except Exception:
                log.exception("job %s failed", name, extra={"job": name})
            finally:
                # The main loop notes the next run times: APScheduler's shutdown holds
                # its job store lock while it waits for this job, so asking for the
                # jobs from here could deadlock a clean stop.
                self._ran.set()

        return run

    def acting(self) -> bool:
        keeper = self.keeper
        return (
            self.active.is_set()
            and not self.stopping.is_set()
            and keeper is not None
            and not keeper.lost.is_set()
        )

    # --- the lease loop -------------------------------------------------------------

    def run(self) -> int:
        """Hold or wait for the lease until `stop`; 0 on a clean stop."""
        self.scheduler.start()
        log.info("scheduler started as %s", self.me.describe())
        try:
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(STANDBY_CHECK)
        finally:
            self._shutdown()
        return 0

    def tick(self) -> None:
        keeper = self.keeper
        if self._ran.is_set() and keeper is not None:
            self._ran.clear()
            self._note()
        if keeper is not None:
            if keeper.lost.is_set():
                log.warning("the scheduler lease was taken by another process; standing by")
                self.active.clear()
                keeper.stop()
                self.keeper = None
            return
        try:
            result = claim(self.ctx.store, LEASE, self.me, self.ttl, self.ctx.clock.now())
            self.store_ok = True
        except Exception as exc:  # the store is down: stay a standby, try again
            if self.store_ok:
                log.error("cannot reach the store for the scheduler lease: %s", exc)
            self.store_ok = False
            return
        if not result.taken:
            if result.previous_holder != self._waiting_on:
                self._waiting_on = result.previous_holder
                log.info("standing by: the scheduler runs as %s", result.previous_holder)
            return
        takeover = result.taken_over_message()
        log.info("took the scheduler lease%s", f" ({takeover})" if takeover else "")
        self.keeper = LeaseKeeper(self.ctx.store, LEASE, self.me, self.ttl, self.ctx.clock).start()
        self.active.set()
        self._note()
        self.scheduler.add_job(
            self._guard("catch-up", self._catch_up), id="catch-up", replace_existing=True
        )

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self.stopping.set()

    def _shutdown(self) -> None:
        self.stopping.set()
        # Waits for the job running now: a send stops after its batch in flight.
        self.scheduler.shutdown(wait=True)
        self.active.clear()
        if self.keeper is not None:
            self.keeper.release()
            self.keeper = None
        log.info("scheduler stopped; lease released")

    # --- what status and /readyz read -----------------------------------------------

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _note(self) -> None:
        """Write the jobs' next run times where `roundup status` reads them."""
        runs = {k: v.isoformat() for k, v in self.next_runs().items() if v and k != "catch-up"}
        try:
            self.ctx.store.note_schedule(self.me.encode(), runs, self.ctx.clock.now())
        except Exception as exc:  # status is informative; the jobs matter more
            log.warning("could not note the next run times: %s", exc)

    def ready(self) -> tuple[bool, str]:
        """Whether this runner is ready: the store answers and it holds the lease or
        stands by healthily."""
        if not self.store_ok:
            return False, "the store does not answer"
        if self.stopping.is_set():
            return False, "stopping"
        return True, "holder" if self.active.is_set() else "standby"
