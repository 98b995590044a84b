"""Workers: claim runs, execute them, keep the lease alive, record the outcome.

Several workers (processes, machines) may share one database; each run is executed by one of
them at a time. A worker survives a database restart: heartbeats and records are retried until
the database answers again, while the notebook keeps running.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import OperationalError

from jobs import queue
from jobs.queue import Claimed
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import DatabaseError
from reprotech_core.job_progress import last_stage
from reprotech_core.settings import PROJECT_HOME

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the worker dies, however it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def progress_of(notebook: Path) -> str | None:
    """"cell i of n" from papermill's per-cell status in the autosaved output notebook, and
    the running cell's last reported stage (:mod:`reprotech_core.job_progress`)."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    code = [c for c in cells if c.get("cell_type") == "code"]
    status = [c.get("metadata", {}).get("papermill", {}).get("status") for c in code]
    done = status.count("completed")
    running = [c for c, st in zip(code, status, strict=True) if st == "running"]
    stage = last_stage(running[0].get("outputs", [])) if running else None
    return f"cell {done} of {len(code)}" + (f": {stage}" if stage else "")


@dataclass
class Worker:
    db: Database
    identity: Identity
    output_root: Path
    name: str = ""
    lease_s: int = 30
    poll_s: float = 1.0
    home: Path = PROJECT_HOME

    def __post_init__(self) -> None:
        self.name = self.name or f"{socket.gethostname()}:{os.getpid()}"

    # One run ---------------------------------------------------------------------------------
    def run_once(self) -> str | None:
        """Claim and execute one run; returns its final state, or None if nothing was due."""
        try:
            run = queue.claim(self.db, self.identity, self.name, lease_s=self.lease_s)
        except (OperationalError, DatabaseError) as exc:
            log.warning("worker %s: database unavailable (%s)", self.name, exc)
            return None
        if run is None:
            return None
        log.info("worker %s: run %s (%s) attempt %s", self.name, run.id, run.job, run.attempts)
        return self._execute(run)

    def _execute(self, run: Claimed) -> str:
        folder = self.output_root / run.job / f"run-{run.id}"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"attempt-{run.attempts}.ipynb"
        result_file = folder / f"attempt-{run.attempts}.json"
        notebook = self.home / run.notebook
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.execute", "--notebook", str(notebook),
             "--output", str(output), "--parameters", json.dumps(dict(run.parameters)),
             "--run-id", str(run.id),
             "--result", str(result_file), "--cwd", str(folder)],
            start_new_session=True, preexec_fn=_die_with_parent, cwd=str(self.home),
            stdout=subprocess.DEVNULL, stderr=open(folder / f"attempt-{run.attempts}.log", "w"))
        deadline = time.monotonic() + run.timeout_s
        stop_reason = None
        while proc.poll() is None:
            try:
                proc.wait(timeout=max(1.0, self.lease_s / 3))
                break
            except subprocess.TimeoutExpired:
                pass
            try:
                state = queue.heartbeat(self.db, self.identity, run.id, self.name,
                                        lease_s=self.lease_s, progress=progress_of(output))
            except (OperationalError, DatabaseError):
                state = "ok"  # database away: keep working, renew when it is back
            if state == "cancel":
                stop_reason = "cancelled"
            elif state == "lost":
                stop_reason = "lost"
            elif time.monotonic() > deadline:
                stop_reason = "timeout"
            if stop_reason:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if stop_reason == "lost":
            log.warning("worker %s: lost the lease of run %s; another worker has it",
                        self.name, run.id)
            return "lost"
        result = self._result(result_file, proc.returncode, stop_reason, run)
        return self._record(run, result, output)

    @staticmethod
    def _result(path: Path, returncode: int | None, stop: str | None, run: Claimed) -> dict:
        if stop == "cancelled":
            return {"status": "cancelled", "error": "cancelled on request", "cell": None}
        if stop == "timeout":
            return {"status": "failed", "error": f"timed out after {run.timeout_s} s",
                    "cell": None}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {"status": "failed", "cell": None,
                    "error": f"the run's process ended with code {returncode} and no result"}

    def _record(self, run: Claimed, result: dict, output: Path) -> str:
        for delay in (0, 1, 2, 5, 10, 20, 30, 60):  # ride out a database restart
            time.sleep(delay)
            try:
                return queue.finish(
                    self.db, self.identity, run, self.name, status=result["status"],
                    output_path=str(output) if output.exists() else None,
                    output_html=result.get("html"), error=result.get("error"),
                    error_cell=result.get("cell"))
            except (OperationalError, DatabaseError) as exc:
                log.warning("worker %s: cannot record run %s yet (%s)", self.name, run.id, exc)
        return "lost"

    # Loop ------------------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event | None = None, *, until_idle: bool = False
                    ) -> int:
        """Work until ``stop`` is set (or, with ``until_idle``, until nothing is due)."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set():
            state = self.run_once()
            if state is None:
                if until_idle:
                    return done
                stop.wait(self.poll_s)
            else:
                done += 1
        return done
