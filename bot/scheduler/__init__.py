"""The scheduler: roundup runs itself every week.

- `rules`: pure decisions (weekly times across DST, catch-up within the grace,
  send or wait or missed, quiet weeks, feed alerts).
- `jobs`: the jobs (poll, draft, send) on a `Context`.
- `manual`: ops' actions by hand (trigger a job, pause a feed), audited.
- `notify`: alerts and notices to the log and to ``alerts.to`` by email.
- `status`: what `roundup status` shows.
- `runner`: the APScheduler adapter and the lease loop of `roundup run`; the only
  module that imports apscheduler (import it only where the scheduler runs).
"""
