"""The job queue with real PostgreSQL, real workers and real papermill kernels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from jobs import queue
from jobs.pipeline import daily_jobs
from jobs.scheduler import enqueue_due
from jobs.schedules import Schedule, ScheduleError, load_schedules
from jobs.worker import Worker
from reprotech_core.settings import PROJECT_HOME

pytestmark = pytest.mark.slow
SELFTEST = "notebooks/jobs/selftest.ipynb"


def job(name="t-self", **kw) -> Schedule:
    return Schedule(name=name, notebook=SELFTEST, parameters={"fail": False}, retries=kw.pop(
        "retries", 1), timeout_s=kw.pop("timeout_s", 120), **kw)


def runs(db, system, ids):
    with db.session(system) as s:
        return {r.id: r for r in s.execute(text(
            "SELECT * FROM core.job_runs WHERE id = ANY(:i)"), {"i": list(ids)})}


def wait_for(predicate, timeout=60.0, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def worker(db, system, tmp_path, name, lease_s=3) -> Worker:
    return Worker(db, system, tmp_path / "jobs", name=name, lease_s=lease_s, poll_s=0.2,
                  home=PROJECT_HOME)


def test_two_workers_complete_every_run_exactly_once(db, system, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    with db.session(system) as s:
        ids = [queue.enqueue(s, job(), system, parameters={"marker": str(marks / f"m{i}")})
               for i in range(8)]
    stop = threading.Event()
    workers = [worker(db, system, tmp_path, f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: all(r.status == "succeeded"
                                    for r in runs(db, system, ids).values()), timeout=240)
    finally:
        stop.set()
        for t in threads:
            t.join()
    final = runs(db, system, ids)
    assert all(r.attempts == 1 for r in final.values())
    lines = [line for i in range(8) for line in (marks / f"m{i}").read_text().split()]
    assert sorted(map(int, lines)) == sorted(ids)  # each run's side effect once
    assert {r.lease_owner for r in final.values()} == {None}
    assert all(Path(r.output_html).exists() for r in final.values())


def test_failing_cell_is_recorded_with_its_message_and_notebook(db, system, tmp_path):
    with db.session(system) as s:
        run_id = queue.enqueue(s, job(retries=0), system, parameters={"fail": True})
    assert worker(db, system, tmp_path, "wf").run_once() == "failed"
    run = runs(db, system, [run_id])[run_id]
    assert run.status == "failed" and run.attempts == 1
    assert run.error == f"ValueError: self-test failure requested (run {run_id})"
    assert run.error_cell is not None
    notebook = json.loads(Path(run.output_path).read_text())
    assert any("PapermillExecutionError" in json.dumps(c) or "papermill-error-cell-tag" in
               json.dumps(c) for c in notebook["cells"])


def test_a_missing_notebook_fails_the_run_not_the_worker(db, system, tmp_path):
    with db.session(system) as s:  # queued, then its notebook went away (a bad deployment)
        run_id = queue.enqueue(s, job(retries=0), system)
        s.execute(text("UPDATE core.job_runs SET notebook = :nb WHERE id = :i"),
                  {"nb": "notebooks/jobs/removed-since.ipynb", "i": run_id})
    assert worker(db, system, tmp_path, "wg").run_once() == "failed"
    run = runs(db, system, [run_id])[run_id]
    assert run.error == ("FileNotFoundError: notebook "
                         f"{PROJECT_HOME / 'notebooks/jobs/removed-since.ipynb'} does not exist")


def test_failed_attempt_is_retried_until_its_limit(db, system, tmp_path):
    with db.session(system) as s:
        run_id = queue.enqueue(s, job(retries=1), system, parameters={"fail": True})
    w = worker(db, system, tmp_path, "wr")
    assert w.run_once() == "queued"  # attempt 1 failed, queued again after a back-off
    with db.session(system) as s:
        s.execute(text("UPDATE core.job_runs SET not_before = now() WHERE id = :i"),
                  {"i": run_id})
    assert w.run_once() == "failed"
    assert runs(db, system, [run_id])[run_id].attempts == 2


def test_sigkilled_worker_run_is_retried_and_completes_once(db, system, pg_settings, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    with db.session(system) as s:
        run_id = queue.enqueue(s, job(retries=2), system,
                               parameters={"sleep_s": 8.0, "marker": str(marks / "m")})
    env = {**os.environ, "REPROTECH_DATA_DIR": str(pg_settings.var_dir),
           "REPROTECH_DB_PORT": str(pg_settings.db_port), "REPROTECH_JOB_LEASE_SECONDS": "5"}
    env.pop("REPROTECH_HOME", None)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("reprotech")), "jobs", "worker",
                             "--name", "doomed"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: runs(db, system, [run_id])[run_id].status == "running", 60)
        time.sleep(2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert runs(db, system, [run_id])[run_id].lease_owner == "doomed"
    # A surviving worker takes the run over once the lease has expired.
    w = worker(db, system, tmp_path, "heir", lease_s=5)
    assert wait_for(lambda: w.run_once() == "succeeded", timeout=120, step=0.5)
    run = runs(db, system, [run_id])[run_id]
    assert run.status == "succeeded" and run.attempts == 2
    assert (marks / "m").read_text().split() == [str(run_id)]  # the killed attempt never got there


def test_cancel_queued_and_running(db, system, tmp_path):
    with db.session(system) as s:
        queued = queue.enqueue(s, job(), system)
        assert queue.cancel(s, queued) == "cancelled"
        running = queue.enqueue(s, job(), system, parameters={"sleep_s": 30.0})
    w = worker(db, system, tmp_path, "wc")
    t = threading.Thread(target=w.run_once)
    t.start()
    assert wait_for(lambda: runs(db, system, [running])[running].status == "running", 60)
    with db.session(system) as s:
        assert queue.cancel(s, running) == "running"  # the worker is asked to stop it
    t.join(timeout=60)
    final = runs(db, system, [queued, running])
    assert final[queued].status == "cancelled" and final[running].status == "cancelled"
    with db.session(system) as s:
        queue.retry(s, running)
    assert runs(db, system, [running])[running].status == "queued"
    with db.session(system) as s:
        queue.cancel(s, running)


def test_runs_with_one_exclusive_key_never_overlap(db, system, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    excl = job("t-excl", exclusive="tenant-{customer}")
    with db.session(system) as s:
        s.execute(text("UPDATE core.job_runs SET status = 'cancelled' "
                       "WHERE status IN ('queued', 'running')"))
        ids = [queue.enqueue(s, excl, system, parameters={"sleep_s": 3.0,
                                                           "marker": str(marks / f"m{i}")})
               for i in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=worker(db, system, tmp_path, f"x{i}").run_forever,
                                args=(stop,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: all(r.status == "succeeded"
                                    for r in runs(db, system, ids).values()), timeout=180)
    finally:
        stop.set()
        for t in threads:
            t.join()
    a, b = (runs(db, system, ids)[i] for i in ids)
    first, second = sorted((a, b), key=lambda r: r.started_at)
    assert first.finished_at <= second.started_at


def test_scheduler_enqueues_each_occurrence_once_and_coalesces_missed_ones(db, system):
    sched = {"t-cron": job("t-cron", cron="*/10 * * * *")}
    now = datetime(2026, 11, 22, 12, 5, tzinfo=UTC)
    first = enqueue_due(db, system, sched, now=now, catchup=timedelta(hours=1))
    again = enqueue_due(db, system, sched, now=now, catchup=timedelta(hours=1))
    assert len(first) == 1 and again == []
    later = enqueue_due(db, system, sched, now=now + timedelta(hours=2),
                        catchup=timedelta(hours=24))
    assert len(later) == 1  # twelve missed occurrences, one run
    with db.session(system) as s:
        keys = s.scalars(text("SELECT run_key FROM core.job_runs WHERE job = 't-cron' "
                              "ORDER BY id")).all()
        s.execute(text("UPDATE core.job_runs SET status = 'cancelled' WHERE job = 't-cron'"))
    assert keys == ["t-cron@2026-11-22T12:00Z", "t-cron@2026-11-22T14:00Z"]


def test_bad_requests_are_refused_and_nothing_is_queued(db, system, world, tmp_path):
    def count():
        with db.session(system) as s:
            return s.scalar(text("SELECT count(*) FROM core.job_runs"))

    before = count()
    with pytest.raises(ScheduleError, match="unknown parameter 'fial'"):
        with db.session(system) as s:
            queue.enqueue(s, job(), system, parameters={"fial": True})
    with pytest.raises(ScheduleError, match="parameter 'sleep_s' must be float, got str"):
        with db.session(system) as s:
            queue.enqueue(s, job(), system, parameters={"sleep_s": "long"})
    customer = world.users["w-a-user"]
    with pytest.raises(ScheduleError, match="not by customer_user"):
        with db.session(customer) as s:
            queue.enqueue(s, job(), customer)
    assert count() == before
    with pytest.raises(ValueError, match="never fires"):
        job(cron="0 0 31 2 *")
    with pytest.raises(ValueError, match="not a cron expression"):
        job(cron="every day")
    bad = tmp_path / "schedules.toml"
    bad.write_text('[[schedule]]\nname = "x-nb"\nnotebook = "notebooks/jobs/nope.ipynb"\n')
    with pytest.raises(ScheduleError, match="schedule x-nb: notebook notebooks/jobs/nope.ipynb "
                                            "does not exist"):
        load_schedules(bad, home=PROJECT_HOME)
    bad.write_text('[[schedule]]\nname = "x-role"\nnotebook = "' + SELFTEST + '"\n'
                   'roles = ["farmer"]\n')
    with pytest.raises(ScheduleError, match="schedule x-role: roles.0"):
        load_schedules(bad, home=PROJECT_HOME)


def test_project_schedules_are_valid():
    assert {"lab-ingest", "lab-qc", "population-report", "customer-reports",
            "backup"} <= set(load_schedules(home=PROJECT_HOME))


def test_the_daily_pipeline_is_the_scheduled_jobs_in_file_order():
    """`reprotech up` runs what config/schedules.toml schedules, not a list of its own."""
    assert daily_jobs(load_schedules(home=PROJECT_HOME)) == [
        "lab-ingest", "lab-qc", "evaluation", "population-report", "customer-reports", "invoices",
        "backup"]


def test_worker_rides_out_a_database_restart(tmp_path):
    """Its own cluster: restarting the shared test cluster would disturb other tests."""
    from reprotech_core.db.cluster import Cluster
    from reprotech_core.db.migrate import app_url
    from reprotech_core.db.scratch import scratch_platform
    from reprotech_core.db.session import Database

    with scratch_platform() as settings:
        cluster = Cluster(settings)
        db = Database(app_url(settings))
        system = db.identity("system")
        with db.session(system) as s:
            run_id = queue.enqueue(s, job(), system, parameters={"sleep_s": 6.0})
        result: list[str | None] = []
        t = threading.Thread(target=lambda: result.append(
            worker(db, system, tmp_path, "survivor", lease_s=30).run_once()))
        t.start()
        assert wait_for(lambda: runs(db, system, [run_id])[run_id].status == "running", 60)
        cluster.stop()
        time.sleep(3)
        cluster.start()
        t.join(timeout=120)
        assert result == ["succeeded"]
        assert runs(db, system, [run_id])[run_id].attempts == 1
        db.dispose()
