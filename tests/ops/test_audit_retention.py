"""Audit-log retention: old monthly partitions exported to checksummed files and dropped, the
newer months and the default partition untouched, a dry run changing nothing, the floor held,
and the application login unable to drop audit data."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
from datetime import UTC, datetime

import psycopg
import pytest
from pydantic import ValidationError

from reprotech_core.db.migrate import app_url
from reprotech_core.ops.audit_retention import (
    RetentionError,
    archive_dir,
    cutoff,
    run_audit_retention,
)
from reprotech_core.settings import Settings
from tests.conftest import psycopg_url
from tests.ops.test_backup_cli_and_job import reprotech

KEEP = 12


def month_start(months_before_cutoff: int) -> datetime:
    c = cutoff(KEEP)
    n = c.year * 12 + c.month - 1 - months_before_cutoff
    return datetime(n // 12, n % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"log_{start:%Y_%m}"


def partitions(admin: psycopg.Connection) -> dict[str, int]:
    """Partition name -> rows, for every partition of audit.log."""
    names = [r[0] for r in admin.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit.log'::regclass")]
    return {n: admin.execute(f"SELECT count(*) FROM audit.{n}").fetchone()[0] for n in names}


@pytest.fixture
def old_months(pg_settings, admin_conninfo):
    """Three months of the past: two older than the cutoff (2 and 3 rows), one just inside it
    (1 row, kept). Rows carry a multi-line reason and JSON, as real ones may."""
    months = {month_start(30): 2, month_start(1): 3, month_start(0): 1}
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute("SET TimeZone = 'UTC'")
        for start, rows in months.items():
            end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
            admin.execute(f"CREATE TABLE audit.{partition_name(start)} PARTITION OF audit.log "
                          "FOR VALUES FROM (%s) TO (%s)".replace("%s", "'{}'").format(
                              start.isoformat(), end.isoformat()))
            admin.execute(
                "INSERT INTO audit.log (occurred_at, db_login, action, table_name, row_id, "
                "customer_id, new_values, reason) SELECT %s + i * interval '1 hour', "
                "'reprotech_app', 'INSERT', 'core.animals', i::text, NULL, "
                "jsonb_build_object('official_id', 'DE' || i, 'note', 'a, \"quoted\"\nvalue'), "
                "'line one' || chr(10) || 'line two' FROM generate_series(1, %s) i",
                (start, rows))
        before = partitions(admin)
    yield {partition_name(s): r for s, r in months.items()}, before
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        for start in months:
            admin.execute(f"DROP TABLE IF EXISTS audit.{partition_name(start)}")
    shutil.rmtree(archive_dir(pg_settings), ignore_errors=True)


def test_a_dry_run_lists_the_old_months_and_changes_nothing(pg_settings, admin_conninfo,
                                                            old_months):
    _, before = old_months
    report = run_audit_retention(pg_settings, keep_months=KEEP, dry_run=True)
    assert report.dry_run and report.cutoff == cutoff(KEEP)
    assert [(m.partition, m.rows, m.file) for m in report.dropped] == [
        (partition_name(month_start(30)), 2, None), (partition_name(month_start(1)), 3, None)]
    with psycopg.connect(admin_conninfo) as admin:
        assert partitions(admin) == before
    assert not archive_dir(pg_settings).exists()


def test_old_months_are_exported_checksummed_recorded_and_dropped(pg_settings, admin_conninfo,
                                                                  old_months):
    months, before = old_months
    old = [partition_name(month_start(30)), partition_name(month_start(1))]
    report = run_audit_retention(pg_settings, keep_months=KEEP)
    assert [m.partition for m in report.dropped] == old and report.rows == 5
    assert partition_name(month_start(0)) in report.kept
    folder = archive_dir(pg_settings)
    for month in report.dropped:
        assert month.file == folder / f"{month.partition}.csv.gz"
        content = month.file.read_bytes()
        assert hashlib.sha256(content).hexdigest() == month.sha256
        assert (folder / f"{month.partition}.csv.gz.sha256").read_text() == \
            f"{month.sha256}  {month.partition}.csv.gz\n"
        manifest = json.loads((folder / f"{month.partition}.json").read_text())
        assert manifest["rows"] == months[month.partition] == month.rows
        assert manifest["sha256"] == month.sha256
        rows = list(csv.DictReader(io.StringIO(gzip.decompress(content).decode())))
        assert len(rows) == months[month.partition]
        assert rows[0]["reason"] == "line one\nline two" and rows[0]["db_login"] == "reprotech_app"
        assert json.loads(rows[0]["new_values"])["note"] == 'a, "quoted"\nvalue'
    with psycopg.connect(admin_conninfo) as admin:
        after = partitions(admin)
        # the old months are gone; the newer month, the current ones and the default are as
        # they were (the default and current partitions may have gained this run's audit rows)
        assert set(after) == set(before) - set(old)
        assert after[partition_name(month_start(0))] == 1
        assert after["log_default"] == before["log_default"]
        recorded = admin.execute(
            "SELECT row_id, db_login, new_values, reason FROM audit.log WHERE action = 'DROP' "
            "AND table_name = 'audit.log' AND row_id = ANY(%s) ORDER BY id", (old,)).fetchall()
    assert [(r[0], r[2]["rows"], r[2]["sha256"]) for r in recorded] == [
        (m.partition, m.rows, m.sha256) for m in report.dropped]
    assert "exported to" in recorded[0][3] and "keeping 12 months" in recorded[0][3]
    # running again drops nothing more and leaves the files as they are
    again = run_audit_retention(pg_settings, keep_months=KEEP)
    assert again.dropped == [] and partition_name(month_start(0)) in again.kept
    assert all(m.file.read_bytes() and hashlib.sha256(m.file.read_bytes()).hexdigest()
               == m.sha256 for m in report.dropped)


def test_the_floor_is_enforced(pg_settings, tmp_path):
    with pytest.raises(RetentionError, match="below the floor of 12"):
        run_audit_retention(pg_settings, keep_months=11)
    with pytest.raises(ValidationError, match="audit_retention_months"):
        Settings(home=tmp_path, audit_retention_months=6)
    assert cutoff(12, datetime(2026, 3, 15, tzinfo=UTC)) == datetime(2025, 3, 1, tzinfo=UTC)
    assert cutoff(14, datetime(2026, 1, 31, 23, tzinfo=UTC)) == datetime(2024, 11, 1, tzinfo=UTC)


def test_the_application_login_cannot_drop_audit_data(pg_settings, old_months):
    name = partition_name(month_start(30))
    with psycopg.connect(psycopg_url(app_url(pg_settings)), autocommit=True) as app:
        for statement in (f"ALTER TABLE audit.log DETACH PARTITION audit.{name}",
                          f"DROP TABLE audit.{name}", f"TRUNCATE audit.{name}",
                          "DELETE FROM audit.log",
                          "SELECT audit.record_retention('x', now(), now(), 0, 'f', 's', 12)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    assert run_audit_retention(pg_settings, keep_months=KEEP, dry_run=True).dropped


@pytest.mark.slow
def test_the_command_line(pg_settings, old_months):
    refused = reprotech(pg_settings, "ops", "audit-retention", "--keep-months", "6",
                        check=False)
    assert refused.returncode == 1 and "below the floor of 12" in refused.stdout + refused.stderr
    dry = reprotech(pg_settings, "ops", "audit-retention", "--keep-months", "12", "--dry-run")
    assert "would drop 2 partition(s), 5 row(s)" in dry.stdout
    assert partition_name(month_start(30)) in dry.stdout
