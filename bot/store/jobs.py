"""The scheduler's state in the store: runs of job slots, and ops' flags on feeds.

What it does: starts a run of a job's slot at most once (the unique key on job and
slot decides between two runners racing for it), finishes it with its outcome,
reads runs back; keeps each feed's paused flag (who paused it) and whether a
"feed down" alert went out.
What it does not do: decide when a job runs or what it does (`bot.scheduler`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, update

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import feed_flags, job_runs
from bot.types import FeedFlags, JobRun, JobRunState

# The row where the scheduler holding the lease notes its jobs' next run times.
SCHEDULE_NOTE = ("scheduler", "next-runs")


class JobsMixin(StoreBase):
    def start_job_run(
        self,
        job: str,
        slot: str,
        *,
        actor: str,
        holder: str,
        now: datetime,
        state: JobRunState = JobRunState.RUNNING,
        detail: Mapping[str, object] | None = None,
    ) -> bool:
        """Record that `job` runs for `slot`; False when a run of that slot exists."""
        values = {
            "job": job,
            "slot": slot,
            "state": state.value,
            "actor": actor,
            "holder": holder,
            "started_at": ensure_utc(now),
            "finished_at": None if state is JobRunState.RUNNING else ensure_utc(now),
            "detail": dict(detail or {}),
        }
        stmt = (
            self._insert(job_runs)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["job", "slot"])
            .returning(job_runs.c.id)
        )
        with self._write() as conn:
            return conn.execute(stmt).scalar_one_or_none() is not None

    def finish_job_run(
        self,
        job: str,
        slot: str,
        state: JobRunState,
        *,
        now: datetime,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state.value, "finished_at": ensure_utc(now)}
        if detail is not None:
            values["detail"] = dict(detail)
        stmt = update(job_runs).where(job_runs.c.job == job, job_runs.c.slot == slot)
        with self._write() as conn:
            conn.execute(stmt.values(**values))

    def forget_job_run(self, job: str, slot: str) -> None:
        """Drop a run that stopped before acting, so its slot may run again."""
        with self._write() as conn:
            conn.execute(job_runs.delete().where(job_runs.c.job == job, job_runs.c.slot == slot))

    def get_job_run(self, job: str, slot: str) -> JobRun | None:
        query = select(job_runs).where(job_runs.c.job == job, job_runs.c.slot == slot)
        with self._read() as conn:
            row = conn.execute(query).mappings().one_or_none()
        return _job_run(row) if row is not None else None

    def schedule_note(self) -> JobRun | None:
        """The scheduler's note of its jobs' next run times (`note_schedule`), if any."""
        return self.get_job_run(*SCHEDULE_NOTE)

    def job_runs(self, job: str | None = None, limit: int = 50) -> list[JobRun]:
        """Runs, newest first (of `job` only, if given)."""
        query = select(job_runs).order_by(job_runs.c.id.desc()).limit(limit)
        query = query.where(job_runs.c.job != SCHEDULE_NOTE[0])
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._read() as conn:
            return [_job_run(row) for row in conn.execute(query).mappings()]

    def note_schedule(self, holder: str, next_runs: Mapping[str, object], now: datetime) -> None:
        """Keep the holder's next run time of each job (a row of its own, job "scheduler")."""
        values = {
            "job": SCHEDULE_NOTE[0],
            "slot": SCHEDULE_NOTE[1],
            "state": JobRunState.DONE.value,
            "actor": "scheduler",
            "holder": holder,
            "started_at": ensure_utc(now),
            "finished_at": ensure_utc(now),
            "detail": dict(next_runs),
        }
        stmt = self._upsert(
            job_runs, values, ["job", "slot"], ["holder", "started_at", "finished_at", "detail"]
        )
        with self._write() as conn:
            conn.execute(stmt)

    # --- feed flags -------------------------------------------------------------

    def feed_flags(self) -> dict[str, FeedFlags]:
        with self._read() as conn:
            rows = conn.execute(select(feed_flags)).mappings().all()
        return {
            row["name"]: FeedFlags(
                name=row["name"],
                paused=bool(row["paused"]),
                paused_by=row["paused_by"],
                alerted_at=row["alerted_at"],
            )
            for row in rows
        }

    def set_feed_paused(self, name: str, paused: bool, *, by: str, now: datetime) -> None:
        values = {
            "name": name,
            "paused": paused,
            "paused_by": by if paused else None,
            "updated_at": ensure_utc(now),
        }
        stmt = self._upsert(feed_flags, values, ["name"], ["paused", "paused_by", "updated_at"])
        with self._write() as conn:
            conn.execute(stmt)

    def set_feed_alerted(self, name: str, at: datetime | None, *, now: datetime) -> None:
        """Record that a down alert went out at `at` (None: the feed recovered)."""
        values = {
            "name": name,
            "alerted_at": ensure_utc(at) if at else None,
            "updated_at": ensure_utc(now),
        }
        stmt = self._upsert(feed_flags, values, ["name"], ["alerted_at", "updated_at"])
        with self._write() as conn:
            conn.execute(stmt)


def _job_run(row: RowMapping) -> JobRun:
    return JobRun(
        job=row["job"],
        slot=row["slot"],
        state=JobRunState(row["state"]),
        actor=row["actor"],
        holder=row["holder"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        detail=dict(row["detail"] or {}),
    )
