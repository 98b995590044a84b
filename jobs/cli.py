"""``reprotech jobs``: schedules, runs, workers and the scheduler."""

from __future__ import annotations

import json
import multiprocessing
import signal
import threading
import time
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import text

from jobs import queue
from jobs.notify import notify_failures
from reprotech_core import notifications
from jobs.scheduler import enqueue_due
from jobs.schedules import ScheduleError, load_schedules
from jobs.worker import Worker
from reprotech_core.cli.context import open_database, print_table, settings, system_session
from reprotech_core.errors import NotFound

app = typer.Typer(help="Scheduled notebook jobs: schedules, runs, workers, scheduler.",
                  no_args_is_help=True)
console = Console()


def _parse(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"parameter {pair!r} is not key=value")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@app.command("schedules")
def schedules() -> None:
    """List the schedules (validated) with their next run."""
    from datetime import UTC, datetime

    from croniter import croniter

    rows = []
    for s in load_schedules(home=settings().home).values():
        nxt = croniter(s.cron, datetime.now(UTC)).get_next(datetime) if s.cron else None
        rows.append((s.name, s.cron or "by hand", f"{nxt:%Y-%m-%d %H:%M}" if nxt else None,
                     s.notebook, s.retries, f"{s.timeout_s}s", ", ".join(s.roles)))
    print_table(("name", "cron (UTC)", "next", "notebook", "retries", "timeout", "roles"), rows)


@app.command("run")
def run(
    name: str,
    param: Annotated[list[str], typer.Option("--param", "-p", help="key=value (JSON values)")]
    = [],  # noqa: B006 - typer needs a literal default
    as_user: Annotated[str | None, typer.Option("--as", help="Trigger as this user")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends")] = False,
    here: Annotated[bool, typer.Option(
        help="Execute it in this process (no worker service needed), then show it")] = False,
) -> None:
    """Queue a run of a job now (refused if the role may not, or a parameter is wrong)."""
    jobs = load_schedules(home=settings().home)
    if name not in jobs:
        raise ScheduleError(f"no job {name!r} (jobs: {', '.join(jobs)})")
    db, system = open_database()
    try:
        who = db.identity(as_user) if as_user else system
        with db.session(who) as session:
            run_id = queue.enqueue(session, jobs[name], who, parameters=_parse(param))
        console.print(f"queued run {run_id} of {name}")
        if here:
            config = settings()
            Worker(db, system, config.jobs_dir, lease_s=config.job_lease_seconds,
                   home=config.home).run_forever(until_idle=True)
        if wait or here:
            _follow(db, system, run_id)
    finally:
        db.dispose()


def _row(db, identity, run_id: int):
    with db.session(identity) as session:
        row = session.execute(text("SELECT * FROM core.job_runs WHERE id = :i"),
                              {"i": run_id}).mappings().first()
    if row is None:
        raise NotFound(f"no job run {run_id}")
    return row


def _follow(db, identity, run_id: int) -> None:
    with console.status(f"run {run_id}…") as status:
        while (row := _row(db, identity, run_id))["status"] in ("queued", "running"):
            status.update(f"run {run_id} {row['job']}: {row['status']}, "
                          f"{row['progress'] or ''} (attempt {row['attempts']})")
            time.sleep(1)
    _print_run(row)
    if row["status"] != "succeeded":
        raise typer.Exit(1)


def _print_run(row) -> None:
    for key in ("id", "job", "status", "attempts", "max_attempts", "progress", "parameters",
                "queued_at", "started_at", "finished_at", "error", "error_cell", "output_path",
                "output_html"):
        if row[key] is not None:
            console.print(f"{key:>13}: {row[key]}", soft_wrap=True)


@app.command("list")
def list_runs(limit: int = 20, status: str | None = None) -> None:
    """Recent runs, newest first."""
    with system_session() as session:
        rows = session.execute(text(
            "SELECT id, job, status, attempts, progress, queued_at, finished_at, error "
            "FROM core.job_runs WHERE (CAST(:s AS text) IS NULL OR status = :s) "
            "ORDER BY id DESC LIMIT :n"), {"s": status, "n": limit}).all()
    print_table(("id", "job", "status", "attempts", "progress", "queued", "finished", "error"),
                ((r.id, r.job, r.status, r.attempts, r.progress, f"{r.queued_at:%m-%d %H:%M}",
                  f"{r.finished_at:%m-%d %H:%M}" if r.finished_at else None,
                  (r.error or "")[:60]) for r in rows))


@app.command("show")
def show(run_id: int) -> None:
    """A run's record: status, parameters, timings, error and cell, output notebook."""
    db, system = open_database()
    try:
        _print_run(_row(db, system, run_id))
    finally:
        db.dispose()


@app.command("follow")
def follow(run_id: int) -> None:
    """Show a run's progress until it ends."""
    db, system = open_database()
    try:
        _follow(db, system, run_id)
    finally:
        db.dispose()


@app.command("cancel")
def cancel(run_id: int) -> None:
    """Cancel a queued run, or stop a running one."""
    with system_session() as session:
        state = queue.cancel(session, run_id)
    console.print(f"run {run_id}: {'cancelled' if state == 'cancelled' else 'stop requested'}")


@app.command("retry")
def retry(run_id: int) -> None:
    """Queue a failed or cancelled run again."""
    with system_session() as session:
        queue.retry(session, run_id)
    console.print(f"run {run_id} queued again")


def _work(name: str, until_idle: bool) -> int:
    db, system = open_database()
    config = settings()
    try:
        return Worker(db, system, config.jobs_dir, name=name, lease_s=config.job_lease_seconds,
                      home=config.home).run_forever(until_idle=until_idle)
    finally:
        db.dispose()


@app.command("worker")
def worker(
    until_idle: Annotated[bool, typer.Option(help="Stop when nothing is due")] = False,
    name: str = "",
) -> None:
    """Run one worker (several may run, on several machines, against one database)."""
    done = _work(name, until_idle)
    console.print(f"worker finished {done} run(s)")


def _schedule_loop(stop: threading.Event, interval: float) -> None:
    db, system = open_database()
    config = settings()
    jobs = load_schedules(home=config.home)
    from datetime import timedelta

    try:
        while not stop.is_set():
            enqueue_due(db, system, jobs,
                        catchup=timedelta(hours=config.scheduler_catchup_hours))
            notify_failures(db, system, config)
            notifications.dispatch(db, system, config)
            stop.wait(interval)
    finally:
        db.dispose()


@app.command("scheduler")
def scheduler(interval: float = 30.0) -> None:
    """Enqueue due runs, send failure notifications and email customers' notices, every
    ``interval`` seconds."""
    _schedule_loop(threading.Event(), interval)


@app.command("serve")
def serve(workers: Annotated[int | None, typer.Option(help="Default: job_workers")] = None
          ) -> None:
    """The scheduler and the workers in one service (what the hub starts and stops).

    SIGTERM (the hub stopping) ends the scheduler and the workers; a run cut short is retried
    by the next worker after its lease expires.
    """
    n = workers or settings().job_workers
    procs = [multiprocessing.Process(target=_work, args=(f"worker-{i}", False), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"scheduler and {n} worker(s) running")
    try:
        _schedule_loop(stop, 30.0)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(timeout=10)
