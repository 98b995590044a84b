"""Prometheus figures of the database, this process's connection pool, backups and disks.

Read at scrape time (custom collectors, like ``reprotech_core.metrics.JobQueueCollector``), so
they tell the truth however many processes share the database.

Slow statements: ``pg_stat_activity`` shows statements *while they run*; with the
``pg_stat_statements`` extension (production: ``shared_preload_libraries =
'pg_stat_statements'`` and ``CREATE EXTENSION pg_stat_statements``) we also export the number of
statement kinds whose mean time exceeds ``db_slow_query_seconds`` and the totals. The embedded
PostgreSQL (the pgserver wheel) is built without that extension:
``reprotech_db_pg_stat_statements_available`` is then 0 and only the live figures are exported.
The application login is a member of ``pg_read_all_stats`` so it can see other logins' states.
That membership is also what lets it read the statistics at all: data_models/sql/privileges.sql
revokes the statistics views and functions (``pg_stat_*``, ``pg_statio_*``, relation and
database sizes, ``pg_stat_statements``) from PUBLIC and grants them to ``pg_read_all_stats``
only, so notebook logins learn nothing platform-wide from them
(tests/db/test_catalog_leaks.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from reprotech_core.db.session import Database
from reprotech_core.errors import ReprotechError
from reprotech_core.settings import Settings

ACTIVITY_SQL = text(
    """
    SELECT coalesce(usename, backend_type) AS login, coalesce(state, 'unknown') AS state,
           count(*) AS n
      FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
     GROUP BY 1, 2
    """
)
LONGEST_SQL = text(
    """
    SELECT coalesce(max(extract(epoch FROM now() - query_start))
                      FILTER (WHERE state = 'active'), 0) AS statement,
           coalesce(max(extract(epoch FROM now() - xact_start))
                      FILTER (WHERE xact_start IS NOT NULL), 0) AS transaction,
           count(*) FILTER (WHERE state = 'active'
                              AND now() - query_start > make_interval(secs => :slow)) AS slow,
           count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
           current_setting('max_connections')::int AS max_connections,
           pg_database_size(current_database()) AS size
      FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
    """
)
STATEMENTS_SQL = text(
    """
    SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_exec_time), 0) / 1000 AS seconds,
           count(*) FILTER (WHERE mean_exec_time > :slow * 1000) AS slow_kinds
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database
                                             WHERE datname = current_database())
    """
)


SIGNIN_SQL = text(
    """
    SELECT count(*) FILTER (WHERE locked_until > clock_timestamp()) AS active,
           count(*) FILTER (WHERE locked_at > clock_timestamp() - interval '1 hour') AS last_hour
      FROM core.signin_lockouts
    """
)


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None
           ) -> GaugeMetricFamily:
    if labels:
        family = GaugeMetricFamily(name, doc, labels=list(labels))
        family.add_metric(list(labels.values()), value)
        return family
    return GaugeMetricFamily(name, doc, value=value)


class DatabaseCollector(Collector):
    """Connections by login and state, slow and waiting statements, longest statement and
    transaction, database size, pg_stat_statements totals when available, and this process's
    SQLAlchemy pool."""

    def __init__(self, database: Database, *, slow_seconds: float = 5.0) -> None:
        self.database = database
        self.slow_seconds = slow_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.database.engine.connect() as conn:
                activity = conn.execute(ACTIVITY_SQL).all()
                longest = conn.execute(LONGEST_SQL, {"slow": self.slow_seconds}).one()
                available = bool(conn.scalar(text(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")))
                statements = None
                if available:
                    try:
                        statements = conn.execute(STATEMENTS_SQL,
                                                  {"slow": self.slow_seconds}).one()
                    except SQLAlchemyError:  # created but not preloaded
                        available = False
                        conn.rollback()
        except SQLAlchemyError:
            yield _gauge("reprotech_db_up", "1 when the database answered this scrape", 0)
            return
        yield _gauge("reprotech_db_up", "1 when the database answered this scrape", 1)
        connections = GaugeMetricFamily("reprotech_db_connections",
                                        "Connections to the platform database by login and state",
                                        labels=["login", "state"])
        for row in activity:
            connections.add_metric([row.login, row.state], row.n)
        yield connections
        yield _gauge("reprotech_db_max_connections", "The server's max_connections",
                     longest.max_connections)
        yield _gauge("reprotech_db_slow_statements",
                     "Statements running longer than db_slow_query_seconds now", longest.slow)
        yield _gauge("reprotech_db_lock_waits", "Sessions waiting for a lock now", longest.waiting)
        yield _gauge("reprotech_db_longest_statement_seconds", "Age of the longest running "
                     "statement", float(longest.statement))
        yield _gauge("reprotech_db_longest_transaction_seconds", "Age of the oldest open "
                     "transaction", float(longest.transaction))
        yield _gauge("reprotech_db_size_bytes", "Size of the platform database", longest.size)
        yield _gauge("reprotech_db_pg_stat_statements_available",
                     "1 when pg_stat_statements is installed and preloaded (the embedded "
                     "PostgreSQL has no such extension)", int(available))
        if statements is not None:
            yield _gauge("reprotech_db_statements_calls",
                         "Statements executed (pg_stat_statements)",
                         float(statements.calls))
            yield _gauge("reprotech_db_statements_seconds", "Time spent executing statements "
                         "(pg_stat_statements)", float(statements.seconds))
            yield _gauge("reprotech_db_slow_statement_kinds", "Statement kinds whose mean time "
                         "exceeds db_slow_query_seconds", statements.slow_kinds)
        yield from self._signin()
        pool = self.database.engine.pool
        if isinstance(pool, QueuePool):
            family = GaugeMetricFamily("reprotech_db_pool_connections",
                                       "This process's connection pool", labels=["state"])
            family.add_metric(["checked_out"], pool.checkedout())
            family.add_metric(["idle"], pool.checkedin())
            family.add_metric(["overflow"], max(pool.overflow(), 0))
            family.add_metric(["size"], pool.size())
            yield family


    def _signin(self) -> Iterator[GaugeMetricFamily]:
        """Sign-in lock-outs (read as the platform's system user: they are admin-only rows)."""
        try:
            with self.database.session(self.database.identity("system")) as session:
                row = session.execute(SIGNIN_SQL).one()
        except ReprotechError:  # no system user yet (an empty database): nothing to report
            return
        yield _gauge("reprotech_signin_lockouts_active", "Usernames and addresses locked out "
                     "now after repeated failed sign-ins", row.active)
        yield _gauge("reprotech_signin_lockouts_1h", "Lock-outs started in the last hour",
                     row.last_hour)


class PlatformFilesCollector(Collector):
    """Disk space of the data and backup folders, the newest backup and the last drill."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from reprotech_core.ops.backup import backups

        free = GaugeMetricFamily("reprotech_disk_free_bytes", "Free space", labels=["folder"])
        total = GaugeMetricFamily("reprotech_disk_total_bytes", "Size of the file system",
                                  labels=["folder"])
        for label, folder in (("data", self.settings.var_dir),
                              ("backups", self.settings.backups_dir)):
            probe = _existing(folder)
            usage = shutil.disk_usage(probe)
            free.add_metric([label], usage.free)
            total.add_metric([label], usage.total)
        yield free
        yield total
        found = backups(self.settings)
        newest = found[-1] if found else None
        yield _gauge("reprotech_backups", "Complete backups kept", len(found))
        yield _gauge("reprotech_backup_last_success_timestamp_seconds",
                     "When the newest complete backup was published (0: none)",
                     (newest / "SHA256SUMS").stat().st_mtime if newest else 0)
        yield _gauge("reprotech_backup_last_size_bytes", "Size of the newest backup",
                     sum(p.stat().st_size for p in newest.iterdir()) if newest else 0)
        drills = self.settings.backups_dir / "drills.jsonl"
        last = None
        if drills.exists():
            lines = drills.read_text().splitlines()
            last = json.loads(lines[-1]) if lines else None
        yield _gauge("reprotech_restore_drill_last_ok", "1 when the last restore drill matched "
                     "its backup (0: failed or never ran)", int(bool(last and last["ok"])))
        yield _gauge("reprotech_restore_drill_last_seconds", "Recovery time of the last drill",
                     float(last["seconds"]) if last else 0.0)
        yield _gauge("reprotech_restore_drill_last_timestamp_seconds", "When the last drill ran",
                     drills.stat().st_mtime if drills.exists() else 0)


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
