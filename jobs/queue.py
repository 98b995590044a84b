"""The job queue in PostgreSQL (``core.job_runs``).

Claiming is ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)``: each run goes to
one worker. The worker holds a lease it renews by heartbeat; a run whose lease expired (its
worker was killed or lost the database) is claimable again, until its attempts are used up.
Every state change after the claim is conditional on ``lease_owner`` — a worker that lost its
lease can no longer record anything — so a run completes at most once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from jobs.schedules import Schedule, ScheduleError, check_parameters
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import RuleViolation

RETRY_BACKOFF_S = 30


@dataclass(frozen=True)
class Claimed:
    id: int
    job: str
    notebook: str
    parameters: dict[str, Any]
    attempts: int
    max_attempts: int
    timeout_s: int


def enqueue(
    session: Session, schedule: Schedule, identity: Identity, *,
    parameters: dict[str, Any] | None = None, run_key: str | None = None,
    not_before: datetime | None = None, check_role: bool = True,
) -> int | None:
    """Queue a run; returns its id, or None when ``run_key`` was queued before.

    Refused, with nothing queued, when the identity's role may not trigger the job or the
    parameters do not fit the notebook.
    """
    if check_role and identity.role not in schedule.roles:
        raise ScheduleError(f"job {schedule.name} may be triggered by "
                            f"{', '.join(schedule.roles)}, not by {identity.role}")
    params = check_parameters(schedule, parameters or {})
    row = session.execute(text(
        """
        INSERT INTO core.job_runs (job, notebook, parameters, requested_by, run_key,
                                   exclusive_key, max_attempts, timeout_s, not_before)
        VALUES (:job, :nb, CAST(:params AS jsonb), :by, :key, :excl, :max, :timeout,
                coalesce(:nbf, now()))
        ON CONFLICT (run_key) DO NOTHING
        RETURNING id
        """), {
        "job": schedule.name, "nb": schedule.notebook, "params": json.dumps(params),
        "by": identity.user_id, "key": run_key, "excl": schedule.exclusive_key(params),
        "max": schedule.retries + 1, "timeout": schedule.timeout_s, "nbf": not_before,
    }).first()
    return row.id if row else None


def reap(session: Session) -> int:
    """Fail runs whose lease expired with no attempts left (their worker was lost)."""
    return session.execute(text(
        """
        UPDATE core.job_runs
           SET status = 'failed', finished_at = now(), lease_owner = NULL,
               error = coalesce(error || E'\\n', '') || format(
                 'worker lost (lease expired) on attempt %s of %s', attempts, max_attempts)
         WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
        """)).rowcount


def claim(db: Database, identity: Identity, worker: str, *, lease_s: int) -> Claimed | None:
    """Claim the oldest runnable run (queued and due, or running with an expired lease)."""
    try:
        with db.session(identity) as session:
            reap(session)
            row = session.execute(text(
                """
                UPDATE core.job_runs r
                   SET status = 'running', attempts = r.attempts + 1, lease_owner = :w,
                       lease_expires_at = now() + make_interval(secs => :lease),
                       heartbeat_at = now(), started_at = coalesce(r.started_at, now()),
                       progress = 'starting'
                 WHERE r.id = (
                   SELECT c.id FROM core.job_runs c
                    WHERE NOT c.cancel_requested
                      AND ((c.status = 'queued' AND c.not_before <= now())
                           OR (c.status = 'running' AND c.lease_expires_at < now()
                               AND c.attempts < c.max_attempts))
                      AND (c.exclusive_key IS NULL OR NOT EXISTS (
                            SELECT 1 FROM core.job_runs o
                             WHERE o.exclusive_key = c.exclusive_key AND o.id <> c.id
                               AND o.status = 'running' AND o.lease_expires_at >= now()))
                    ORDER BY c.not_before, c.id
                    FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING r.id, r.job, r.notebook, r.parameters, r.attempts, r.max_attempts,
                          r.timeout_s
                """), {"w": worker, "lease": lease_s}).first()
    except RuleViolation as exc:
        if exc.rule == "unique":  # another worker just started a run with this exclusive key
            return None
        raise
    return Claimed(*row) if row else None


def heartbeat(db: Database, identity: Identity, run_id: int, worker: str, *, lease_s: int,
              progress: str | None = None) -> str:
    """Renew the lease. Returns "ok", "cancel" (cancellation requested) or "lost"."""
    with db.session(identity) as session:
        row = session.execute(text(
            """
            UPDATE core.job_runs
               SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => :lease),
                   progress = coalesce(:progress, progress)
             WHERE id = :id AND lease_owner = :w AND status = 'running'
            RETURNING cancel_requested
            """), {"id": run_id, "w": worker, "lease": lease_s, "progress": progress}).first()
    if row is None:
        return "lost"
    return "cancel" if row.cancel_requested else "ok"


def finish(db: Database, identity: Identity, run: Claimed, worker: str, *, status: str,
           output_path: str | None = None, output_html: str | None = None,
           error: str | None = None, error_cell: int | None = None) -> str:
    """Record the end of an attempt. A failed attempt with attempts left is queued again after
    a back-off. Returns the status recorded, or "lost" if the lease was no longer ours."""
    retry = status == "failed" and run.attempts < run.max_attempts
    with db.session(identity) as session:
        row = session.execute(text(
            """
            UPDATE core.job_runs
               SET status = CAST(:status AS text), lease_owner = NULL, lease_expires_at = NULL,
                   finished_at = CASE WHEN CAST(:retry AS boolean) THEN NULL ELSE now() END,
                   not_before = CASE WHEN CAST(:retry AS boolean)
                                THEN now() + make_interval(secs => :backoff) ELSE not_before END,
                   output_path = coalesce(CAST(:out AS text), output_path),
                   output_html = coalesce(CAST(:html AS text), output_html),
                   error = CAST(:error AS text), error_cell = CAST(:cell AS integer),
                   progress = CASE WHEN CAST(:retry AS boolean) THEN 'waiting to retry'
                                   ELSE CAST(:status AS text) END
             WHERE id = :id AND lease_owner = :w AND status = 'running'
            RETURNING status
            """), {"status": "queued" if retry else status, "retry": retry,
                   "backoff": RETRY_BACKOFF_S * run.attempts, "out": output_path,
                   "html": output_html, "error": error, "cell": error_cell, "id": run.id,
                   "w": worker}).first()
    return row.status if row else "lost"


def cancel(session: Session, run_id: int) -> str:
    """Cancel a queued run at once; ask the worker of a running one to stop it."""
    row = session.execute(text(
        """
        UPDATE core.job_runs
           SET cancel_requested = true,
               status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
               finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
         WHERE id = :id AND status IN ('queued', 'running')
        RETURNING status
        """), {"id": run_id}).first()
    if row is None:
        raise ScheduleError(f"run {run_id} is not queued or running")
    return row.status


def retry(session: Session, run_id: int) -> None:
    """Queue a failed or cancelled run again, with one more attempt."""
    done = session.execute(text(
        """
        UPDATE core.job_runs
           SET status = 'queued', cancel_requested = false, not_before = now(),
               max_attempts = attempts + 1, finished_at = NULL, error = NULL,
               error_cell = NULL
         WHERE id = :id AND status IN ('failed', 'cancelled')
        """), {"id": run_id}).rowcount
    if not done:
        raise ScheduleError(f"run {run_id} is not failed or cancelled")
