"""Audit-log retention: old monthly partitions of ``audit.log`` exported, checksummed, dropped.

The audit log is append-only and partitioned by month (migration 0002's
``audit.ensure_partitions``, plus a default partition), so a month can leave the database whole,
without deleting a row: ``ALTER TABLE audit.log DETACH PARTITION`` then ``DROP TABLE``.

Why these choices:

- Only whole months entirely before the cutoff go: the cutoff is the first day of the current
  UTC month minus ``keep_months`` (at least :data:`AUDIT_RETENTION_FLOOR_MONTHS`), so the
  current and future months are never touched; nor is the default partition (its rows have no
  month to be judged by; the report counts those older than the cutoff).
- Nothing is lost silently: each month is locked against writes, copied to
  ``<backup_dir>/audit-log/<partition>.csv.gz`` (``COPY … CSV HEADER``, every column), read back
  and counted, checksummed (``.sha256`` in ``sha256sum`` format, and a ``.json`` manifest), and
  only then detached and dropped — in one transaction, so any failure leaves the month in the
  database as it was (the log itself is locked only for the detach and drop). The drop is recorded in the audit log itself
  (``audit.record_retention``: action ``DROP``, the file, its SHA-256 and row count).
- It runs as the administrative login (the one that migrates and creates the partitions):
  only the tables' owner may detach and drop them. The application login cannot, and cannot
  record a retention either; the backup login only reads.
- Idempotent: a second run finds nothing older than the cutoff and drops nothing. Runs are
  serialised by an advisory lock.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from reprotech_core.db.migrate import admin_url
from reprotech_core.errors import DatabaseError, ReprotechError
from reprotech_core.ops.backup import conninfo, sha256_file
from reprotech_core.settings import AUDIT_RETENTION_FLOOR_MONTHS, Settings

log = logging.getLogger(__name__)

ARCHIVE_FOLDER = "audit-log"
LOCK_KEY = "reprotech.audit_retention"
PARTITIONS_SQL = r"""
    SELECT c.relname, b.m[1]::timestamptz AS lower, b.m[2]::timestamptz AS upper
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                          'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS m) b
     WHERE i.inhparent = 'audit.log'::regclass AND c.relname ~ '^log_\d{4}_\d{2}$'
       AND b.m IS NOT NULL
     ORDER BY 2"""


class RetentionError(ReprotechError):
    """Audit retention refused or failed; the database is as it was for the month concerned."""


@dataclass(frozen=True)
class Month:
    """One monthly partition handled (or, in a dry run, that would be)."""

    partition: str
    start: datetime
    end: datetime
    rows: int
    file: Path | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class RetentionReport:
    keep_months: int
    cutoff: datetime
    dry_run: bool
    dropped: list[Month] = field(default_factory=list)  # dry run: what would be dropped
    kept: list[str] = field(default_factory=list)
    default_rows_before_cutoff: int = 0

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.dropped)

    @property
    def files(self) -> list[Path]:
        return [m.file for m in self.dropped if m.file is not None]


def cutoff(keep_months: int, now: datetime | None = None) -> datetime:
    """First instant kept: the current UTC month's start minus ``keep_months`` months."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    months = now.year * 12 + now.month - 1 - keep_months
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def check_keep_months(keep_months: int) -> None:
    if keep_months < AUDIT_RETENTION_FLOOR_MONTHS:
        raise RetentionError(
            f"audit retention: keeping {keep_months} month(s) is below the floor of "
            f"{AUDIT_RETENTION_FLOOR_MONTHS}; the audit log keeps at least "
            f"{AUDIT_RETENTION_FLOOR_MONTHS} months")


def archive_dir(settings: Settings) -> Path:
    return settings.backups_dir / ARCHIVE_FOLDER


def run_audit_retention(settings: Settings, *, keep_months: int | None = None,
                        dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
    """Export and drop the audit log's monthly partitions older than ``keep_months`` months
    (default: the ``audit_retention_months`` setting). See the module docstring."""
    keep = settings.audit_retention_months if keep_months is None else keep_months
    check_keep_months(keep)
    limit = cutoff(keep, now)
    current = cutoff(0, now)
    try:
        url = conninfo(admin_url(settings))
    except DatabaseError as exc:
        raise RetentionError(f"audit retention drops tables, so it runs as the administrative "
                             f"login: {exc}") from None
    folder = archive_dir(settings)
    with psycopg.connect(url, autocommit=True,
                         application_name="reprotech ops audit-retention") as conn:
        conn.execute("SET TimeZone = 'UTC'")
        if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK_KEY,)).fetchone()[0]:
            raise RetentionError("audit retention is already running (another process holds "
                                 "its lock); try again when it has finished")
        try:
            months = conn.execute(PARTITIONS_SQL).fetchall()
            old = [(n, lo, hi) for n, lo, hi in months if hi <= limit and hi <= current]
            kept = [n for n, _, hi in months if not (hi <= limit and hi <= current)]
            default_old = conn.execute(
                "SELECT count(*) FROM audit.log_default WHERE occurred_at < %s",
                (limit,)).fetchone()[0] if _has_default(conn) else 0
            dropped = []
            for name, lower, upper in old:
                if dry_run:
                    rows = conn.execute(sql.SQL("SELECT count(*) FROM audit.{}").format(
                        sql.Identifier(name))).fetchone()[0]
                    dropped.append(Month(name, lower, upper, rows))
                else:
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                    dropped.append(_drop_month(conn, folder, name, lower, upper, keep))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
    report = RetentionReport(keep, limit, dry_run, dropped, kept, default_old)
    log.info("audit retention%s: keeping %d months (from %s): %d partition(s), %d row(s) %s; "
             "%d partition(s) kept", " (dry run)" if dry_run else "", keep, f"{limit:%Y-%m-%d}",
             len(dropped), report.rows, "would be dropped" if dry_run else "exported and dropped",
             len(kept))
    if default_old:
        log.warning("audit retention: the default partition holds %d row(s) older than %s; "
                    "they are kept (only monthly partitions are dropped)", default_old,
                    f"{limit:%Y-%m-%d}")
    return report


def _has_default(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass('audit.log_default') IS NOT NULL").fetchone()[0]


def _drop_month(conn: psycopg.Connection, folder: Path, name: str, lower: datetime,
                upper: datetime, keep: int) -> Month:
    """Detach, export, verify, record and drop one month, all in one transaction."""
    table = sql.SQL("audit.{}").format(sql.Identifier(name))
    target = folder / f"{name}.csv.gz"
    partial = folder / f".{name}.csv.gz.partial"
    try:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '30s'")
            # The month is frozen while it is copied; the log itself is locked (detach takes
            # it exclusively) only for the last moment, so audited writes barely wait.
            conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(table))
            rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
            with gzip.open(partial, "wb") as out, conn.cursor().copy(
                    sql.SQL("COPY (SELECT * FROM {} ORDER BY occurred_at, id) TO STDOUT "
                            "WITH (FORMAT csv, HEADER)").format(table)) as copy:
                for chunk in copy:
                    out.write(chunk)
            _fsync(partial)
            written = _count_csv_rows(partial)
            if written != rows:
                raise RetentionError(f"audit retention: {partial} holds {written} row(s), the "
                                     f"partition {name} {rows}; nothing dropped")
            digest = sha256_file(partial)
            os.replace(partial, target)
            (folder / f"{target.name}.sha256").write_text(f"{digest}  {target.name}\n")
            (folder / f"{name}.json").write_text(json.dumps({
                "partition": name, "from": lower.isoformat(), "to": upper.isoformat(),
                "rows": rows, "file": target.name, "sha256": digest, "format": "csv.gz",
                "exported_at": datetime.now(UTC).isoformat()}, indent=1) + "\n")
            _fsync(folder)
            conn.execute(sql.SQL("ALTER TABLE audit.log DETACH PARTITION {}").format(table))
            conn.execute("SELECT audit.record_retention(%s, %s, %s, %s, %s, %s, %s)",
                         (name, lower, upper, rows, str(target), digest, keep))
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    log.info("audit retention: %s (%s to %s, %d rows) exported to %s (sha256 %s) and dropped",
             name, f"{lower:%Y-%m-%d}", f"{upper:%Y-%m-%d}", rows, target, digest)
    return Month(name, lower, upper, rows, target, digest)


def _count_csv_rows(path: Path) -> int:
    """Rows of an exported file read back (quoted newlines in values are one row)."""
    with gzip.open(path, "rb") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        return max(sum(1 for _ in reader) - 1, 0)  # minus the header


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
