"""``reprotech ops`` as an operator runs it, and the scheduled backup job failing on a damaged
backup (the run is marked failed, which the job-failure alert watches)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from jobs import queue
from jobs.schedules import load_schedules
from jobs.worker import Worker
from reprotech_core.db.migrate import app_url, head_revision
from reprotech_core.db.session import Database
from reprotech_core.ops.backup import run_backup
from reprotech_core.settings import PROJECT_HOME

BIN = Path(sys.executable).with_name("reprotech")


def env_for(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(settings.home), REPROTECH_DATA_DIR=str(settings.var_dir),
               REPROTECH_DB_PORT=str(settings.db_port), COLUMNS="200")
    return env


def reprotech(settings, *args, check=True):
    result = subprocess.run([str(BIN), *args], env=env_for(settings), capture_output=True,
                            text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"reprotech {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.slow
def test_ops_backup_drill_and_refused_restore_from_the_command_line(demo_platform):
    out = reprotech(demo_platform, "ops", "backup").stdout
    assert re.search(r"backup .*: \d+ tables, \d+ rows, .* verified", out), out
    drill = reprotech(demo_platform, "ops", "restore-drill").stdout
    assert "match; recovery time" in drill and "restore dump" in drill
    listing = reprotech(demo_platform, "ops", "backups").stdout
    assert head_revision() in listing  # the schema revision the backup was taken at
    refused = reprotech(demo_platform, "ops", "restore", Path(out.split()[1].rstrip(":")).name,
                        check=False)
    assert refused.returncode == 1 and "already holds" in refused.stderr + refused.stdout


@pytest.mark.slow
def test_backup_job_fails_when_the_backup_does_not_verify(demo_platform, tmp_path, monkeypatch):
    damaged = run_backup(demo_platform).folder
    (damaged / "files.tar").write_bytes(b"not the archive")
    for key, value in env_for(demo_platform).items():
        if key.startswith("REPROTECH_"):
            monkeypatch.setenv(key, value)  # the job's kernel reads the platform's settings
    db = Database(app_url(demo_platform))
    try:
        system = db.identity("system")
        schedule = load_schedules(home=PROJECT_HOME)["backup"]
        with db.session(system) as s:
            run_id = queue.enqueue(s, schedule.model_copy(update={"retries": 0}), system,
                                   parameters={"verify_only": str(damaged)})
        worker = Worker(db, system, tmp_path / "jobs", name="ops-test", lease_s=30, poll_s=0.2,
                        home=PROJECT_HOME)
        assert worker.run_once() == "failed"
        with db.session(system) as s:
            run = s.execute(text("SELECT status, error FROM core.job_runs WHERE id = :i"),
                            {"i": run_id}).one()
    finally:
        db.dispose()
    assert run.status == "failed"
    assert "BackupError" in run.error and "files.tar" in run.error
