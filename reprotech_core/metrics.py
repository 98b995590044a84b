"""Platform figures for Prometheus: the job queue as PostgreSQL sees it at scrape time.

A custom collector (not counters kept in memory) so every scrape tells the truth even when
several workers on several machines share the queue, and a restarted exporter loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from reprotech_core.db.session import Database
from reprotech_core.errors import DatabaseError

JOB_STATUS_SQL = text(
    """
    SELECT job, status, count(*) AS runs
      FROM core.job_runs GROUP BY job, status
    """
)
QUEUE_SQL = text(
    """
    SELECT coalesce(extract(epoch FROM now() - min(queued_at)
                    FILTER (WHERE status = 'queued' AND not_before <= now())), 0) AS oldest,
           count(*) FILTER (WHERE status = 'failed'
                              AND finished_at > now() - interval '24 hours') AS failed_24h,
           count(*) FILTER (WHERE status = 'running'
                              AND started_at < now() - make_interval(secs => timeout_s))
             AS overdue
      FROM core.job_runs
    """
)


class JobQueueCollector(Collector):
    """Runs per job and status, age of the oldest due run, failures and overdue runs."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            system = self.database.identity("system")
            with self.database.session(system) as s:
                counts = s.execute(JOB_STATUS_SQL).all()
                queue = s.execute(QUEUE_SQL).one()
        except (DatabaseError, SQLAlchemyError):
            # The database (or PgBouncer) is away: the scrape still answers, without the queue's
            # figures, and `reprotech_db_up 0` (ops/dbmetrics.py) says why; failing the whole
            # scrape would read as this service being down instead.
            return
        runs = GaugeMetricFamily("reprotech_job_runs", "Job runs by job and status",
                                 labels=["job", "status"])
        for row in counts:
            runs.add_metric([row.job, row.status], row.runs)
        yield runs
        yield GaugeMetricFamily("reprotech_job_queue_oldest_seconds",
                                "Age of the oldest due queued run", value=float(queue.oldest))
        yield GaugeMetricFamily("reprotech_job_failures_24h", "Runs failed in the last 24 h",
                                value=queue.failed_24h)
        yield GaugeMetricFamily("reprotech_job_runs_overdue",
                                "Running runs past their timeout", value=queue.overdue)
