"""What changed in a customer's herd since the user's last visit.

The last visit is remembered per user in a small JSON file under ``<var>/dashboards/visits``
(the service's own state: no schema change, shared by the service's processes). A visit is
recorded when the overview is opened; the changes are counted from the database under the
user's row security.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Visit:
    at: datetime
    release_run: int | None


class VisitLog:
    """Last visits per (user, customer), one file per user, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, user_id: int) -> Path:
        return self.folder / f"user-{int(user_id)}.json"

    def last(self, user_id: int, customer_id: int) -> Visit | None:
        try:
            data = json.loads(self._path(user_id).read_text())[str(customer_id)]
            return Visit(datetime.fromisoformat(data["at"]), data.get("release_run"))
        except (FileNotFoundError, KeyError, ValueError, TypeError):
            return None

    def record(self, user_id: int, customer_id: int, visit: Visit) -> None:
        path = self._path(user_id)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        data[str(customer_id)] = {"at": visit.at.isoformat(), "release_run": visit.release_run}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


def now() -> datetime:
    return datetime.now(UTC)


def changes_since(session: Session, customer_id: int, since: Visit) -> list[tuple[str, int]]:
    """``(what, how many)`` that arrived after ``since``, only the non-zero ones: animals
    registered, genotypes stored, QC decisions, a newly released evaluation (animals with new
    results), parentage checks, reproduction records."""
    row = session.execute(text(
        """
        SELECT
          (SELECT count(*) FROM core.animals WHERE customer_id = :c AND created_at > :t),
          (SELECT count(*) FROM core.genotypes WHERE customer_id = :c AND created_at > :t),
          (SELECT count(*) FROM core.qc_results WHERE customer_id = :c AND decided_at > :t),
          (SELECT count(DISTINCT animal_id) FROM core.evaluation_results
            WHERE customer_id = :c AND released AND run_id > coalesce(:r, 0)),
          (SELECT count(*) FROM core.parentage_results p
            WHERE customer_id = :c AND created_at > :t
              AND p.run_id IN (SELECT DISTINCT run_id FROM core.evaluation_results
                                WHERE customer_id = :c AND released)),
          (SELECT count(*) FROM core.inseminations WHERE customer_id = :c AND created_at > :t)
          + (SELECT count(*) FROM core.pregnancy_diagnoses
              WHERE customer_id = :c AND created_at > :t)
          + (SELECT count(*) FROM core.calvings WHERE customer_id = :c AND created_at > :t)
          + (SELECT count(*) FROM core.embryo_transfers WHERE customer_id = :c AND created_at > :t)
        """), {"c": customer_id, "t": since.at, "r": since.release_run}).one()
    labels = ("new animals registered", "new genotypes", "genotype QC decisions",
              "animals with newly released breeding values", "parentage checks",
              "reproduction records")
    return [(label, int(n)) for label, n in zip(labels, row, strict=True) if n]
