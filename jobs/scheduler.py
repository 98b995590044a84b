"""Enqueue due scheduled runs.

A run is keyed ``<schedule>@<due time>``, so any number of schedulers (or a restarted one)
enqueue each occurrence once. After downtime, missed occurrences within the catch-up window
are coalesced into one run (the latest), not replayed one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from jobs import queue
from jobs.schedules import Schedule
from reprotech_core.db.session import Database, Identity


def run_key(schedule: Schedule, due: datetime) -> str:
    return f"{schedule.name}@{due.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def enqueue_due(db: Database, identity: Identity, schedules: dict[str, Schedule], *,
                now: datetime | None = None, catchup: timedelta = timedelta(hours=24)
                ) -> list[int]:
    now = now or datetime.now(UTC)
    queued = []
    with db.session(identity) as session:
        for schedule in schedules.values():
            if schedule.cron is None:
                continue
            last = session.scalar(text(
                "SELECT max(not_before) FROM core.job_runs WHERE job = :j AND run_key IS NOT NULL"
            ), {"j": schedule.name})
            start = max(last, now - catchup) if last else now - catchup
            due = schedule.due_between(start, now)
            if not due:
                continue
            run_id = queue.enqueue(session, schedule, identity, run_key=run_key(schedule, due[-1]),
                                   not_before=due[-1], check_role=False)
            if run_id is not None:
                queued.append(run_id)
    return queued
