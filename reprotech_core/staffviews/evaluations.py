"""Evaluation runs for the people who release them: what went in, how each trait came out, how
the run validated itself, and the release decided on those numbers.

A run's record is the single source: ``parameters`` (animals, SNPs, panel, contemporary
groups, the traits' heritabilities), ``validation`` (forward validation by the LR method, the
genetic trend and the release verdict; :mod:`reprotech_core.store.run_validation`) and
``timings``. Reading runs needs ``runs:read`` (lab operations, researchers, administrators;
row security on ``core.evaluation_runs`` says the same); releasing from a page needs
``results:release`` — the job's automatic release runs as the system account, and
:func:`reprotech_core.store.evaluations.release_run` keeps the validation gate (a run held by
its validation is released only with a reason, recorded on the run).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.roles import has_permission
from reprotech_core.store.evaluations import release_run
from reprotech_core.store.run_validation import validation_table

RUN_LIST_COLUMNS = ["id", "method", "status", "animals", "n_snps", "panel", "traits",
                    "validation", "started_at", "finished_at", "released_at", "seconds"]


def require_runs(session: Session) -> None:
    if not has_permission(session, "runs:read"):
        raise PermissionDenied("the evaluation views need the runs:read permission")


def may_release(session: Session) -> bool:
    return has_permission(session, "results:release")


def verdict(validation: dict | None, status: str = "finished") -> str:
    """One phrase for a run's release verdict: what a list of runs needs to show.

    A run without a release verdict either failed before its validation ran or predates
    migration 0018 (validation of every run); the status tells which.
    """
    release = (validation or {}).get("release")
    if release is None:
        if status == "failed":
            return "failed before validation"
        if status == "running":
            return "running"
        return "no validation (run before migration 0018)"
    if "despite" in release:
        return f"released despite validation: {release['despite'].get('reason', '')}"
    if release.get("automatic"):
        return "passed"
    return f"held: {len(release.get('reasons', []))} reason(s)"


def evaluation_runs(session: Session, *, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` runs, newest first, one row each (``RUN_LIST_COLUMNS``)."""
    require_runs(session)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    rows = session.execute(text(
        "SELECT id, method, status, parameters, validation, timings, started_at, finished_at, "
        "released_at FROM core.evaluation_runs ORDER BY id DESC LIMIT :n"), {"n": limit}).all()
    return pd.DataFrame([{
        "id": r.id, "method": r.method, "status": r.status,
        "animals": r.parameters.get("animals"), "n_snps": r.parameters.get("n_snps"),
        "panel": r.parameters.get("panel"), "traits": len(r.parameters.get("traits", {})),
        "validation": verdict(r.validation, r.status), "started_at": r.started_at,
        "finished_at": r.finished_at, "released_at": r.released_at,
        "seconds": r.timings.get("total")} for r in rows], columns=RUN_LIST_COLUMNS)


@dataclass(frozen=True)
class RunRecord:
    """One run as its page shows it; every table is derived from the stored record."""

    id: int
    method: str
    status: str
    parameters: dict
    validation: dict
    timings: dict
    started_at: object
    finished_at: object
    released_at: object

    @property
    def verdict(self) -> str:
        return verdict(self.validation, self.status)

    @property
    def reasons(self) -> list[str]:
        """Why the run is not released automatically (empty: it may be)."""
        return list(self.validation.get("release", {}).get("reasons", []))

    def traits(self) -> pd.DataFrame:
        """Heritability, its standard error and records per trait; skipped traits say why."""
        rows = [{"trait": t, "h2": v.get("h2"), "se_h2": v.get("se_h2"),
                 "records": v.get("n_records"), "note": "h2 at the boundary"
                 if v.get("at_boundary") else ""}
                for t, v in self.parameters.get("traits", {}).items()]
        rows += [{"trait": t, "h2": None, "se_h2": None, "records": None,
                  "note": f"not evaluated: {why}"}
                 for t, why in self.parameters.get("skipped_traits", {}).items()]
        return pd.DataFrame(rows, columns=["trait", "h2", "se_h2", "records", "note"])

    def validation_table(self) -> pd.DataFrame:
        return validation_table(self.validation)

    def trend(self) -> pd.DataFrame:
        """Mean GEBV per birth year and trait (the genetic trend stored with the run)."""
        return pd.DataFrame(self.validation.get("trend", []),
                            columns=["trait", "birth_year", "mean", "sd", "n"])

    def groups(self) -> pd.DataFrame:
        """Contemporary groups per trait: records, groups, kept, and exclusions by rule."""
        groups = self.parameters.get("contemporary_groups", {})
        frame = pd.DataFrame([{"trait": t, **counts} for t, counts in groups.items()])
        return frame.fillna(0) if not frame.empty else frame


def run_record(session: Session, run_id: int) -> RunRecord:
    """One run; :class:`NotFound` when it does not exist or is not visible."""
    require_runs(session)
    row = session.execute(text(
        "SELECT id, method, status, parameters, validation, timings, started_at, finished_at, "
        "released_at FROM core.evaluation_runs WHERE id = :i"), {"i": run_id}).first()
    if row is None:
        raise NotFound(f"no evaluation run {run_id}")
    return RunRecord(row.id, row.method, row.status, row.parameters or {},
                     row.validation or {}, row.timings or {}, row.started_at,
                     row.finished_at, row.released_at)


def release(session: Session, run_id: int, *, despite_validation: str | None = None) -> int:
    """Release a run from the page: needs ``results:release`` (the page's button is shown only
    to those who have it, and this says so again); the validation gate is
    :func:`~reprotech_core.store.evaluations.release_run`'s."""
    run_record(session, run_id)  # NotFound first: an invisible run is not named
    if not may_release(session):
        raise PermissionDenied("releasing an evaluation run needs the results:release "
                               "permission")
    return release_run(session, run_id, despite_validation=despite_validation)
