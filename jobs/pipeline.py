"""The daily pipeline, run once through the queue (what ``reprotech up`` does on the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from jobs import queue
from jobs.schedules import load_schedules
from jobs.worker import Worker
from reprotech_core.db.session import Database, Identity
from reprotech_core.settings import Settings

DAILY = ("lab-ingest", "lab-qc", "evaluation", "population-report", "customer-reports", "backup")


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
    keys = [f"{name}@{tag}" for name in DAILY]
    with db.session(identity) as session:
        for name, key in zip(DAILY, keys, strict=True):
            queue.enqueue(session, schedules[name], identity, run_key=key,
                          parameters=(parameters or {}).get(name))
    Worker(db, identity, settings.jobs_dir, lease_s=settings.job_lease_seconds,
           home=settings.home).run_forever(until_idle=True)
    with db.session(identity) as session:
        rows = session.execute(text(
            "SELECT id, job, status, attempts, error, output_html FROM core.job_runs "
            "WHERE run_key = ANY(:keys) ORDER BY id"), {"keys": keys}).all()
    return [RunRecord(*row) for row in rows]
