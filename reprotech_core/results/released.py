"""Released genomic results: what customers, staff, reports and jobs read as *the* results.

A customer's results are those of the customer's newest released evaluation run (the highest
run id among the customer's released results). Unreleased runs never reach a customer, and a
page or report takes every figure (GEBVs, inbreeding, parentage) from that one run, so the
numbers a breeder compares belong together. The rule is per customer: a run may cover one
customer or all of them, and a customer-only re-evaluation replaces that customer's results
without touching anyone else's. Queries run in the caller's session, so row security decides
whose results can be read at all.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.db.frames import rows_frame

#: Columns of :func:`released_results` (long: one row per animal and trait).
RESULT_COLUMNS = ["animal", "official_id", "trait", "gebv", "reliability", "basis"]

#: What a result's ``basis`` means, in the words the portal shows next to it.
BASIS_LABELS = {"genomic": "genomic", "pedigree": "pedigree-based"}
BASIS_HELP = ("Genomic: the value uses the animal's own genotype. Pedigree-based: the animal "
              "is not genotyped; its value comes from its own and its relatives' records and "
              "its genotyped relatives (single-step), so its reliability is usually lower.")


def released_run(session: Session, customer_id: int) -> int | None:
    """The customer's newest released evaluation run (``None`` before the first release)."""
    return session.scalar(text(
        "SELECT max(run_id) FROM core.evaluation_results WHERE customer_id = :c AND released"),
        {"c": customer_id})


def released_results(session: Session, customers: int | Iterable[int], *,
                     animal_id: int | None = None) -> pd.DataFrame:
    """Long table ``animal, official_id, trait, gebv, reliability, basis`` (``genomic`` or
    ``pedigree``, :data:`BASIS_LABELS`) of the newest released run
    of each customer in ``customers`` (one id, or several: a herd with the AI-sire catalogue
    it may use), in official-ID and trait order; ``animal_id``: that animal's rows only.
    Empty before a customer's first release."""
    ids = [customers] if isinstance(customers, int) else [int(c) for c in customers]
    rows = session.execute(text(
        """
        WITH newest AS (
          SELECT customer_id, max(run_id) AS run_id FROM core.evaluation_results
           WHERE released AND customer_id = ANY(CAST(:c AS bigint[]))
           GROUP BY customer_id)
        SELECT r.animal_id, a.official_id, r.trait, r.gebv, r.reliability, r.basis
          FROM newest
          JOIN core.evaluation_results r
            ON r.customer_id = newest.customer_id AND r.run_id = newest.run_id AND r.released
          JOIN core.animals a ON a.id = r.animal_id
         WHERE CAST(:a AS bigint) IS NULL OR r.animal_id = :a
         ORDER BY a.official_id, r.trait
        """), {"c": ids, "a": animal_id}).all()
    return rows_frame(rows, RESULT_COLUMNS)
