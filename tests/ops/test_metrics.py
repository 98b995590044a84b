"""Database, pool, backup and disk metrics scraped over HTTP from a real exporter."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import requests
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from reprotech_core.db.migrate import app_url
from reprotech_core.db.session import Database
from reprotech_core.metrics import JobQueueCollector
from reprotech_core.ops.backup import conninfo, run_backup
from reprotech_core.ops.dbmetrics import DatabaseCollector, PlatformFilesCollector
from reprotech_core.ops.restore import restore_drill
from tests.support import free_port


def scrape(registry) -> dict[str, list]:
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        server.shutdown()
        thread.join()
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(metrics, name, **labels):
    return next(v for lab, v in metrics[name] if all(lab.get(k) == x for k, x in labels.items()))


def test_database_metrics_see_a_slow_statement_and_the_pool(demo_platform):
    db = Database(app_url(demo_platform), pool_size=3)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db, slow_seconds=0.5))
    registry.register(JobQueueCollector(db))
    sleeper = threading.Thread(target=lambda: psycopg.connect(
        conninfo(app_url(demo_platform)), autocommit=True).execute("SELECT pg_sleep(3)"))
    sleeper.start()
    from reprotech_core.ops.lockout import SigninLimits, record_failure

    assert record_failure(db, "metrics-probe", None, SigninLimits(max_failures=1)) is not None
    try:
        time.sleep(1.2)
        with db.engine.connect():  # one pooled connection checked out during the scrape
            metrics = scrape(registry)
    finally:
        sleeper.join()
        db.dispose()
    assert value(metrics, "reprotech_db_up") == 1
    assert value(metrics, "reprotech_db_slow_statements") >= 1
    assert value(metrics, "reprotech_db_longest_statement_seconds") >= 1
    assert value(metrics, "reprotech_db_connections", login="reprotech_app", state="active") >= 1
    assert value(metrics, "reprotech_db_pool_connections", state="checked_out") >= 1
    assert value(metrics, "reprotech_db_pool_connections", state="size") == 3
    assert value(metrics, "reprotech_db_size_bytes") > 1e6
    # pgserver's PostgreSQL is built without pg_stat_statements: said, not hidden.
    assert value(metrics, "reprotech_db_pg_stat_statements_available") == 0
    assert "reprotech_job_queue_oldest_seconds" in metrics
    assert value(metrics, "reprotech_signin_lockouts_active") >= 1
    assert value(metrics, "reprotech_signin_lockouts_1h") >= 1


def test_the_exporter_sees_notebook_sessions_that_notebooks_cannot_see(db, notebook):
    """Statistics are withheld from notebook logins (data_models/sql/privileges.sql) but not
    from the application login the exporter runs as: it still counts a notebook's session."""
    conn = notebook("w-vet")
    login = conn.execute("SELECT session_user").fetchone()[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM pg_stat_activity")
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db, slow_seconds=5))
    metrics = scrape(registry)
    assert value(metrics, "reprotech_db_up") == 1
    assert value(metrics, "reprotech_db_connections", login=login, state="idle") >= 1
    assert value(metrics, "reprotech_db_size_bytes") > 1e6


def test_backup_drill_and_disk_metrics(demo_platform):
    backup = run_backup(demo_platform)
    restore_drill(demo_platform, backup.folder)
    registry = CollectorRegistry()
    registry.register(PlatformFilesCollector(demo_platform))
    metrics = scrape(registry)
    assert value(metrics, "reprotech_backups") >= 1
    assert value(metrics, "reprotech_backup_last_success_timestamp_seconds") > time.time() - 600
    assert value(metrics, "reprotech_backup_last_size_bytes") == backup.bytes + (
        backup.folder / "SHA256SUMS").stat().st_size
    assert value(metrics, "reprotech_restore_drill_last_ok") == 1
    assert value(metrics, "reprotech_restore_drill_last_seconds") > 0
    assert 0 < value(metrics, "reprotech_disk_free_bytes", folder="backups") <= value(
        metrics, "reprotech_disk_total_bytes", folder="backups")


def test_database_down_is_reported_not_raised(tmp_path):
    db = Database(f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/none", check=False)
    try:
        registry = CollectorRegistry()
        registry.register(DatabaseCollector(db))
        assert value(scrape(registry), "reprotech_db_up") == 0
    finally:
        db.dispose()


@pytest.mark.slow
def test_the_exporter_command_serves_the_metrics_until_terminated(demo_platform):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(demo_platform.home),
               REPROTECH_DATA_DIR=str(demo_platform.var_dir),
               REPROTECH_DB_PORT=str(demo_platform.db_port))
    proc = subprocess.Popen([str(Path(sys.executable).with_name("reprotech")), "ops", "exporter",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert "metrics at" in proc.stdout.readline()
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert "reprotech_db_up 1.0" in body and "reprotech_job_queue_oldest_seconds" in body
        assert "reprotech_disk_free_bytes" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
