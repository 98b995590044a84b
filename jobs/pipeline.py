"""The daily pipeline, run once through the queue (what ``reprotech up`` does on the demo).

The pipeline is not restated here: it is every scheduled job of ``config/schedules.toml`` (one
with a ``cron``), in the order the file declares them, so adding or removing a daily job there
changes ``reprotech up`` too. Jobs run by hand only (no ``cron``, e.g. ``selftest``) are not in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from jobs import queue
from jobs.schedules import Schedule, load_schedules
from jobs.worker import Worker
from reprotech_core import notifications
from reprotech_core.db.session import Database, Identity
from reprotech_core.settings import Settings


def daily_jobs(schedules: dict[str, Schedule]) -> list[str]:
    """The scheduled jobs in the order of the schedules file (ingest first, the backup last)."""
    return [name for name, schedule in schedules.items() if schedule.cron is not None]


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str
    status: str
    attempts: int
    error: str | None
    output_html: str | None


def run_daily_once(db: Database, identity: Identity, settings: Settings, *, tag: str,
                   parameters: dict[str, dict] | None = None) -> list[RunRecord]:
    """Enqueue the daily jobs (keyed by ``tag``: once per tag) and work until none is due.
    ``parameters`` overrides a job's schedule parameters (job name -> parameters)."""
    schedules = load_schedules(home=settings.home)
    daily = daily_jobs(schedules)
    keys = [f"{name}@{tag}" for name in daily]
    with db.session(identity) as session:
        for name, key in zip(daily, keys, strict=True):
            queue.enqueue(session, schedules[name], identity, run_key=key,
                          parameters=(parameters or {}).get(name))
    Worker(db, identity, settings.jobs_dir, lease_s=settings.job_lease_seconds,
           home=settings.home).run_forever(until_idle=True)
    notifications.dispatch(db, identity, settings)  # what the scheduler would do next
    with db.session(identity) as session:
        rows = session.execute(text(
            "SELECT id, job, status, attempts, error, output_html FROM core.job_runs "
            "WHERE run_key = ANY(:keys) ORDER BY id"), {"keys": keys}).all()
    return [RunRecord(*row) for row in rows]
