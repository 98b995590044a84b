"""Backups and restores on a real embedded cluster: back up the demo, destroy it, restore it,
compare; drills; refusals; a full disk; a damaged backup."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import text

from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.session import Database
from reprotech_core.ops.backup import (
    BackupError,
    backups,
    conninfo,
    fingerprints,
    run_backup,
    verify,
)
from reprotech_core.ops.restore import RestoreRefused, restore, restore_drill


def live_fingerprints(settings):
    with psycopg.connect(conninfo(admin_url(settings)), autocommit=True) as conn:
        return fingerprints(conn)


def test_backup_runs_as_the_backup_login_and_records_the_snapshot(demo_platform):
    backup = run_backup(demo_platform)
    manifest = json.loads((backup.folder / "manifest.json").read_text())
    assert manifest["login"] == "reprotech_backup"
    assert manifest["tables"] == live_fingerprints(demo_platform)
    assert manifest["tables"]["core.animals"]["rows"] > 0
    assert manifest["tables"]["audit.log"]["rows"] > 0
    assert "store/snapshots/genotypes.parquet" in manifest["files"]
    assert verify(backup.folder).dump_entries == backup.dump_entries > 50
    with psycopg.connect(conninfo(admin_url(demo_platform))) as conn:
        role = conn.execute("SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                            "WHERE rolname = 'reprotech_backup'").fetchone()
    assert role == (False, True, False)


def test_backup_destroy_restore_and_compare(demo_platform):
    backup = run_backup(demo_platform)
    before = live_fingerprints(demo_platform)
    store_file = demo_platform.var_dir / "store" / "snapshots" / "genotypes.parquet"
    store_bytes = store_file.read_bytes()
    # Lose the machine's database and files (the backups folder is the off-site copy).
    Cluster(demo_platform).destroy()
    for name in ("store", "reports"):
        subprocess.run(["rm", "-rf", str(demo_platform.var_dir / name)], check=True)
    report = restore(demo_platform, backup.folder)
    assert report.ok and report.files >= 2
    assert live_fingerprints(demo_platform) == before
    assert store_file.read_bytes() == store_bytes
    db = Database(app_url(demo_platform))  # new passwords: the app login works again
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM core.animals").scalar() == 0
        with db.session(db.identity("system")) as s:
            assert s.scalar(text("SELECT count(*) FROM core.animals")) == \
                before["core.animals"]["rows"]
    finally:
        db.dispose()


def test_restore_onto_a_database_with_data_refuses_unless_forced(demo_platform):
    backup = run_backup(demo_platform)
    before = live_fingerprints(demo_platform)
    with pytest.raises(RestoreRefused, match="already holds .* table.*--force"):
        restore(demo_platform, backup.folder)
    assert live_fingerprints(demo_platform) == before  # nothing touched
    report = restore(demo_platform, backup.folder, force=True)
    assert report.ok
    assert live_fingerprints(demo_platform) == before
    assert list(demo_platform.var_dir.glob("store.before-restore-*"))


def test_restore_drill_compares_every_table_and_reports_its_time(demo_platform):
    backup = run_backup(demo_platform)
    report = restore_drill(demo_platform)
    assert report.backup == backup.folder
    assert report.ok, report.mismatches
    assert report.tables == backup.tables and report.rows == backup.rows
    assert report.files >= 2 and report.seconds > 0
    drills = (demo_platform.backups_dir / "drills.jsonl").read_text().splitlines()
    assert json.loads(drills[-1])["ok"] is True


def test_a_damaged_backup_fails_verification_and_the_drill(demo_platform):
    backup = run_backup(demo_platform)
    with open(backup.folder / "db.dump", "r+b") as handle:
        handle.seek(2000)
        handle.write(b"\x00garbage\x00")
    with pytest.raises(BackupError, match="db.dump: checksum does not match"):
        verify(backup.folder)
    with pytest.raises(BackupError, match="checksum"):
        restore_drill(demo_platform, backup.folder)


def test_a_full_disk_during_backup_leaves_earlier_backups_intact(demo_platform):
    good = run_backup(demo_platform)
    listed = backups(demo_platform)
    # A file-size limit (RLIMIT_FSIZE) makes every write past 64 KiB fail, as a full disk does.
    code = (
        "import resource, sys\n"
        "from reprotech_core.ops.backup import run_backup\n"
        "from reprotech_core.settings import Settings\n"
        "settings = Settings.model_validate_json(sys.argv[1])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "run_backup(settings)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    result = subprocess.run([sys.executable, "-c", code, demo_platform.model_dump_json()],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "BackupError" in result.stderr, result.stderr[-2000:]
    assert backups(demo_platform) == listed
    assert not list(demo_platform.backups_dir.glob(".*.partial"))
    verify(good.folder)


def test_retention_keeps_the_newest_verified_backups(demo_platform):
    for _ in range(3):
        run_backup(demo_platform, keep=2)
    assert len(backups(demo_platform)) == 2


def test_extensions_the_target_lacks_are_left_out_of_the_restore():
    from reprotech_core.ops.restore import restorable_toc

    toc = ("; header\n2; 3079 17710 EXTENSION - pg_stat_statements \n"
           "3; 3079 17711 EXTENSION - vector \n3696; 0 0 COMMENT - EXTENSION pg_stat_statements \n"
           "8; 2615 16393 SCHEMA - core reprotech_owner\n")
    kept, skipped = restorable_toc(toc, {"vector", "plpgsql"})
    assert skipped == ["pg_stat_statements"]
    assert "pg_stat_statements" not in kept and "EXTENSION - vector" in kept
    assert "SCHEMA - core" in kept
