"""Job runs for lab operations: status, timings, outputs, and the runs that need a person.

A run needs attention when it **failed** (after its last attempt; a failed attempt with
attempts left is queued again and shows as ``queued``) or is **long-running**: still running
past its own ``timeout_s`` (the rule of the ``reprotech_job_runs_overdue`` gauge in
:mod:`reprotech_core.metrics`), or running more than ``slow_factor`` times the median duration
of its job's recent successful runs. The second rule catches a stuck run long before a
generous timeout expires; it needs ``min_history`` successful runs of the job to judge by.
A run **waiting** has been due in the queue for longer than ``max_queue_wait_s`` with no worker
taking it (usually: no worker is running).

Output notebooks are files the workers wrote under the jobs folder; :func:`run_outputs` returns
only files that exist inside that folder, so a path in the database can never make a page
read anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.roles import has_permission

RUN_COLUMNS = ("id", "job", "status", "attempts", "max_attempts", "progress", "queued_at",
               "not_before", "started_at", "finished_at", "timeout_s", "error", "error_cell",
               "output_path", "output_html", "requested_by")

SLOW_FACTOR = 3.0
MIN_HISTORY = 3
MIN_LONG_SECONDS = 60.0
MAX_QUEUE_WAIT_SECONDS = 900.0
#: Flags in the order the attention list shows them: what is happening now first.
FLAG_ORDER = ("long-running", "waiting", "failed")


def require_jobs(session: Session) -> None:
    if not has_permission(session, "jobs:read"):
        raise PermissionDenied("the job views need the jobs:read permission")


def job_runs(session: Session, *, limit: int = 500) -> pd.DataFrame:
    """The newest ``limit`` runs (every status), newest first, plus every run still running
    or queued however old, so a stuck run never drops off the list."""
    require_jobs(session)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    rows = session.execute(text(
        f"""
        SELECT {", ".join(f"r.{c}" if c != "requested_by" else "u.username AS requested_by"
                          for c in RUN_COLUMNS)}
          FROM core.job_runs r LEFT JOIN core.users u ON u.id = r.requested_by
         WHERE r.id IN (SELECT id FROM core.job_runs ORDER BY id DESC LIMIT :n)
            OR r.status IN ('running', 'queued')
         ORDER BY r.id DESC
        """), {"n": limit}).all()
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def annotate_runs(runs: pd.DataFrame, *, now: datetime | None = None,
                  slow_factor: float = SLOW_FACTOR, min_history: int = MIN_HISTORY,
                  min_long_s: float = MIN_LONG_SECONDS,
                  max_queue_wait_s: float = MAX_QUEUE_WAIT_SECONDS) -> pd.DataFrame:
    """Add ``wait_s`` (queued to started), ``duration_s`` (started to finished, or to ``now``
    while running), ``typical_s`` (median successful duration of the job), ``flag``
    (``failed``, ``long-running``, ``waiting`` or ``""``) and ``why`` (the reason, for
    people)."""
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    out = runs.copy()
    if "not_before" not in out:
        out["not_before"] = out["queued_at"]
    for col in ("queued_at", "not_before", "started_at", "finished_at"):
        out[col] = pd.to_datetime(out[col], utc=True)
    due = out[["queued_at", "not_before"]].max(axis=1)
    end = out["finished_at"].where(out["status"] != "running", now_ts)
    out["wait_s"] = (out["started_at"] - out["queued_at"]).dt.total_seconds()
    out["duration_s"] = (end - out["started_at"]).dt.total_seconds()
    done = out[(out["status"] == "succeeded") & out["duration_s"].notna()]
    history = done.groupby("job")["duration_s"].agg(["median", "count"])
    typical = history["median"].where(history["count"] >= min_history)
    out["typical_s"] = out["job"].map(typical).astype(float)
    flags, why = [], []
    for r, due_at in zip(out.itertuples(), due, strict=True):
        if r.status == "failed":
            cell = f" in cell {int(r.error_cell)}" if pd.notna(r.error_cell) else ""
            first = str(r.error or "no error recorded").strip().splitlines()[0][:160]
            flags.append("failed")
            why.append(f"failed after {r.attempts} attempt(s){cell}: {first}")
        elif r.status == "running" and pd.notna(r.duration_s) and r.duration_s > r.timeout_s:
            flags.append("long-running")
            why.append(f"running {format_duration(r.duration_s)}, past its timeout of "
                       f"{format_duration(r.timeout_s)}")
        elif (r.status == "running" and pd.notna(r.duration_s) and pd.notna(r.typical_s)
              and r.duration_s > max(slow_factor * r.typical_s, min_long_s)):
            flags.append("long-running")
            why.append(f"running {format_duration(r.duration_s)}, {r.duration_s / r.typical_s:.0f}"
                       f"x its usual {format_duration(r.typical_s)}")
        elif (r.status == "queued" and pd.notna(due_at)
              and (now_ts - due_at).total_seconds() > max_queue_wait_s):
            flags.append("waiting")
            why.append(f"due for {format_duration((now_ts - due_at).total_seconds())} and "
                       "not started: is a worker running? (`reprotech jobs serve`)")
        else:
            flags.append("")
            why.append("")
    out["flag"] = flags
    out["why"] = why
    return out


def attention(annotated: pd.DataFrame) -> pd.DataFrame:
    """The flagged runs in :data:`FLAG_ORDER` (long-running, waiting, failed), newest first
    within each."""
    flagged = annotated[annotated["flag"] != ""]
    rank = flagged["flag"].map({f: i for i, f in enumerate(FLAG_ORDER)})
    return (flagged.assign(_rank=rank).sort_values(["_rank", "id"], ascending=[True, False],
                                                   kind="stable").drop(columns="_rank"))


def attention_summary(flagged: pd.DataFrame) -> str:
    """``"2 long-running and 1 failed run(s) need attention."`` ("" when none)."""
    counts = [f"{int((flagged['flag'] == f).sum())} {f}" for f in FLAG_ORDER
              if (flagged["flag"] == f).any()]
    if not counts:
        return ""
    text = counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + " and " + counts[-1]
    return f"{text} run(s) need attention."


def job_durations(annotated: pd.DataFrame) -> pd.DataFrame:
    """Per job: runs by status and the duration of successful runs (median, p95, max)."""
    rows = []
    for job, g in annotated.groupby("job", sort=True):
        ok = g.loc[(g["status"] == "succeeded"), "duration_s"].dropna().to_numpy(float)
        rows.append({
            "job": job, "runs": len(g),
            **{s: int((g["status"] == s).sum())
               for s in ("succeeded", "failed", "running", "queued", "cancelled")},
            "median_s": float(np.median(ok)) if ok.size else None,
            "p95_s": float(np.percentile(ok, 95)) if ok.size else None,
            "max_s": float(ok.max()) if ok.size else None,
            "last_queued": g["queued_at"].max(),
        })
    return pd.DataFrame(rows, columns=["job", "runs", "succeeded", "failed", "running",
                                       "queued", "cancelled", "median_s", "p95_s", "max_s",
                                       "last_queued"])


def format_duration(seconds: float | None) -> str:
    """``95`` -> ``1 min 35 s``; ``None``/NaN -> ``""``."""
    if seconds is None or not np.isfinite(seconds):
        return ""
    s = int(round(float(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def run_by_id(session: Session, run_id: int) -> dict:
    """One run's record; :class:`NotFound` when it does not exist or is not visible."""
    require_jobs(session)
    row = session.execute(text(
        f"""
        SELECT {", ".join(f"r.{c}" if c != "requested_by" else "u.username AS requested_by"
                          for c in RUN_COLUMNS)}, r.parameters
          FROM core.job_runs r LEFT JOIN core.users u ON u.id = r.requested_by
         WHERE r.id = :i
        """), {"i": run_id}).mappings().first()
    if row is None:
        raise NotFound(f"no job run {run_id}")
    return dict(row)


@dataclass(frozen=True)
class RunOutputs:
    notebook: Path | None
    html: Path | None


def run_outputs(run: dict, jobs_dir: Path) -> RunOutputs:
    """The run's executed notebook and HTML, when they exist inside ``jobs_dir``."""
    root = Path(jobs_dir).resolve()

    def inside(value: object) -> Path | None:
        if not value:
            return None
        path = Path(str(value))
        path = (path if path.is_absolute() else root / path).resolve()
        return path if path.is_file() and path.is_relative_to(root) else None

    return RunOutputs(inside(run.get("output_path")), inside(run.get("output_html")))
