"""A customer's herd as the portal shows it: one row per animal, and the overview's figures.

Results come from the customer's newest *released* evaluation run (what the lab has signed
off; :mod:`reprotech_core.results.released`); unreleased runs never reach a customer page.
Genomic and pedigree inbreeding and parentage come from the same run, so every number on a
page belongs to one evaluation. The index is :mod:`reprotech_core.results.index`'s, with its
rule for a missing GEBV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.db.frames import rows_frame
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.results.index import index_values
from reprotech_core.results.released import BASIS_LABELS, released_run

#: Trait labels as breeders read them (and the column names of the herd table).
TRAIT_LABELS = {
    "milk_production": "Milk (kg)",
    "fertility": "Fertility",
    "disease_resistance": "Disease resistance",
    "longevity": "Longevity (months)",
}

ANIMAL_COLUMNS = ["id", "official_id", "name", "sex", "breed", "birth_date", "birth_year",
                  "herd", "status", "left_on", "sire", "dam", "genotyped", "genotype_qc", "f_genomic", "f_pedigree",
                  "parentage"]


def data_version(session: Session, customer_id: int) -> tuple:
    """A cheap fingerprint of what the herd table depends on: cached tables are keyed by it,
    so a new animal, genotype or released run shows on the next page load."""
    row = session.execute(text(
        """
        SELECT (SELECT count(*) FROM core.animals WHERE customer_id = :c) AS animals,
               (SELECT max(created_at) FROM core.animals WHERE customer_id = :c) AS animal_at,
               (SELECT max(id) FROM core.animal_exits WHERE customer_id = :c) AS exit,
               (SELECT max(id) FROM core.genotypes WHERE customer_id = :c) AS genotype,
               (SELECT max(id) FROM core.qc_results WHERE customer_id = :c) AS qc
        """), {"c": customer_id}).one()
    return (*row, released_run(session, customer_id))


def herd_animals(session: Session, customer_id: int) -> pd.DataFrame:
    """Every animal of the customer with its status (``in herd``, or how it left: ``sold``,
    ``slaughter``, ``died`` on ``left_on``), parents, genotype status and inbreeding (released
    run), one row each, in official-ID order (columns ``ANIMAL_COLUMNS``)."""
    run = released_run(session, customer_id)
    rows = session.execute(text(
        """
        SELECT a.id, a.official_id, a.name, a.sex, a.breed, a.birth_date,
               extract(year FROM a.birth_date)::int AS birth_year, h.code AS herd,
               coalesce(x.reason, 'in herd') AS status, x.exit_date AS left_on,
               s.official_id AS sire, d.official_id AS dam,
               g.animal_id IS NOT NULL AS genotyped, q.decision AS genotype_qc,
               i.f_genomic, i.f_pedigree, p.parentage
          FROM core.animals a
          LEFT JOIN core.herds h ON h.id = a.herd_id
          LEFT JOIN core.animal_exits x ON x.animal_id = a.id
          LEFT JOIN core.animals s ON s.id = a.sire_id
          LEFT JOIN core.animals d ON d.id = a.dam_id
          LEFT JOIN (SELECT DISTINCT ON (animal_id) animal_id, sample_id FROM core.genotypes
                      WHERE customer_id = :c ORDER BY animal_id, created_at DESC) g
                 ON g.animal_id = a.id
          LEFT JOIN (SELECT sample_id, decision FROM core.sample_qc_latest
                      WHERE customer_id = :c) q ON q.sample_id = g.sample_id
          LEFT JOIN core.inbreeding i ON i.animal_id = a.id AND i.run_id = :r
          LEFT JOIN (SELECT animal_id,
                            CASE WHEN bool_or(status = 'excluded') THEN 'excluded'
                                 WHEN bool_and(status = 'verified') THEN 'verified'
                                 ELSE 'undetermined' END AS parentage
                       FROM core.parentage_results WHERE customer_id = :c AND run_id = :r
                      GROUP BY animal_id) p ON p.animal_id = a.id
         WHERE a.customer_id = :c
         ORDER BY a.official_id
        """), {"c": customer_id, "r": run}).all()
    frame = rows_frame(rows, ANIMAL_COLUMNS)
    frame["birth_year"] = frame["birth_year"].astype("Int64")
    return frame


def herd_table(animals: pd.DataFrame, results: pd.DataFrame,
               weights: Mapping[str, float]) -> pd.DataFrame:
    """The animals table: ``herd_animals`` plus, per trait, the GEBV (column = trait code) and
    its reliability (``<trait>_rel``), the ``basis`` of the values ("genomic" or
    "pedigree-based", :data:`~reprotech_core.results.released.BASIS_LABELS`: one evaluation
    gives an animal one basis for every trait) and the selection ``index``. Animals without
    results keep empty cells: no result is not a zero."""
    out = animals.copy()
    if len(results):
        gebv = results.pivot(index="animal", columns="trait", values="gebv")
        rel = results.pivot(index="animal", columns="trait", values="reliability")
        rel.columns = [f"{c}_rel" for c in rel.columns]
        basis = results.groupby("animal")["basis"].first().map(BASIS_LABELS)
        out = out.join(gebv.join(rel).join(basis), on="id")
    if "basis" not in out:
        out["basis"] = None
    for trait in TRAITS:
        for col in (trait, f"{trait}_rel"):
            if col not in out:
                out[col] = np.nan
    out["index"] = index_values(out, weights)
    return out


@dataclass(frozen=True)
class HerdSummary:
    animals: int  # every animal recorded, including those that left
    in_herd: int
    females: int  # in the herd
    males: int
    genotyped: int  # of the animals in the herd
    qc_pass: int
    qc_review: int
    qc_fail: int
    with_results: int
    release_run: int | None
    newest_birth: date | None

    @property
    def genotyped_share(self) -> float | None:
        """The share of the herd (animals still in it) that is genotyped."""
        return self.genotyped / self.in_herd if self.in_herd else None


def herd_summary(table: pd.DataFrame, release_run: int | None) -> HerdSummary:
    """Counts for the overview from a herd table (pure)."""
    n = len(table)
    has_result = table[list(TRAITS)].notna().any(axis=1) if n else pd.Series(dtype=bool)
    qc = table["genotype_qc"] if n else pd.Series(dtype=object)
    births = table["birth_date"].dropna() if n else pd.Series(dtype=object)
    present = table[table["status"] == "in herd"] if n else table
    return HerdSummary(
        animals=n, in_herd=len(present), females=int((present["sex"] == "F").sum()),
        males=int((present["sex"] == "M").sum()),
        genotyped=int(present["genotyped"].sum()) if n else 0,
        qc_pass=int((qc == "pass").sum()), qc_review=int((qc == "review").sum()),
        qc_fail=int((qc == "fail").sum()), with_results=int(has_result.sum()),
        release_run=release_run, newest_birth=max(births) if len(births) else None)


def top_animals(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` best animals in the herd by index with their GEBVs (the overview's "latest
    results")."""
    present = table[table["status"] == "in herd"] if "status" in table else table
    ranked = present.dropna(subset=["index"]).sort_values("index", ascending=False,
                                                          kind="stable")
    return ranked.head(n)[["id", "official_id", "sex", "birth_year", "index", *TRAITS]]


def as_of(value: datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
