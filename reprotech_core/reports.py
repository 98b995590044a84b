"""Customer herd reports: the tables a breeder reads, written as CSV and one HTML page.

Built through the database as the given identity, so a report holds only what row security
lets that identity see of the customer. Results are the customer's released ones and the
ranking is the one selection index (:mod:`reprotech_core.results`), so the report ranks a herd
exactly as the portal and the CLI do; animals the index cannot rank (a weighted GEBV missing)
are counted in the summary, not ranked on fewer traits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core.portal.exports import spreadsheet_frame
from reprotech_core.results import index
from reprotech_core.results.released import BASIS_LABELS, released_results


def herd_report(session: Session, customer: Customer, *, index_weights: Mapping[str, float]
                ) -> dict[str, pd.DataFrame]:
    """The report's tables: ``summary`` (one row of counts), ``rankings`` (see
    :func:`ranking_table`) and ``animals`` (every animal with parents and genotype QC)."""
    params = {"c": customer.id}
    animals = pd.DataFrame(session.execute(text(
        """
        SELECT a.official_id, a.name, a.sex, a.birth_date, h.code AS herd,
               s.official_id AS sire, d.official_id AS dam,
               g.call_rate AS genotype_call_rate, q.decision AS genotype_qc
          FROM core.animals a
          LEFT JOIN core.herds h ON h.id = a.herd_id
          LEFT JOIN core.animals s ON s.id = a.sire_id
          LEFT JOIN core.animals d ON d.id = a.dam_id
          LEFT JOIN core.genotypes g ON g.animal_id = a.id
          LEFT JOIN (SELECT sample_id, decision FROM core.sample_qc_latest
                      WHERE customer_id = :c) q ON q.sample_id = g.sample_id
         WHERE a.customer_id = :c
         ORDER BY a.official_id
        """), params).mappings().all())
    results = released_results(session, customer.id)
    ranking = ranking_table(results, index_weights)
    summary = pd.DataFrame([{
        "customer": customer.code,
        "animals": len(animals),
        "females": int((animals["sex"] == "F").sum()) if len(animals) else 0,
        "genotyped": int(animals["genotype_call_rate"].notna().sum()) if len(animals) else 0,
        "genotype_qc_pass": int((animals["genotype_qc"] == "pass").sum()) if len(animals) else 0,
        "genotype_qc_review": int((animals["genotype_qc"] == "review").sum())
        if len(animals) else 0,
        "unranked": results["animal"].nunique() - len(ranking),  # lack a weighted GEBV
    }])
    return {"summary": summary, "rankings": ranking.round(4), "animals": animals}


def ranking_table(results: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """The report's ranking of released results (``released_results``): ``rank,
    official_id, index, basis`` ("genomic" or "pedigree-based": whether the animal's values
    use its own genotype), the GEBV of each weighted trait and every trait's reliability, best
    first; animals lacking a weighted GEBV are left out (the index's rule)."""
    if results.empty:
        return pd.DataFrame(columns=["rank", "official_id", "index", "basis"])
    wide = index.gebv_wide(results, keys=("animal", "official_id"))
    ranked = index.ranked(wide, weights)
    weighted = [t for t in weights if t in ranked.columns]
    reliability = results.pivot(index="animal", columns="trait", values="reliability")
    reliability.columns = [f"{c}_reliability" for c in reliability.columns]
    basis = results.groupby("animal")["basis"].first().map(BASIS_LABELS)
    out = ranked[["animal", "rank", "official_id", "index"]].join(basis, on="animal").join(
        ranked[["animal", *weighted]].set_index("animal"), on="animal").join(
        reliability, on="animal")
    return out.drop(columns="animal")


def write_herd_report(tables: dict[str, pd.DataFrame], folder: Path, *, title: str) -> Path:
    """CSV per table plus ``report.html``; returns the HTML path."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    title = escape(title)  # a customer's name is data, never markup
    parts = [f"<h1>{title}</h1><p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"]
    for name, frame in tables.items():
        # Opened in Excel by the farm: a cell starting "=" must stay text (OWASP CSV injection).
        spreadsheet_frame(frame).to_csv(folder / f"{name}.csv", index=False)
        parts.append(f"<h2>{name.replace('_', ' ').title()}</h2>")
        parts.append(frame.to_html(index=False, na_rep="", border=0) if len(frame)
                     else "<p>No records yet.</p>")
    html = folder / "report.html"
    html.write_text("<!doctype html><meta charset='utf-8'><title>" + title + "</title>"
                    "<style>body{font-family:sans-serif}td,th{padding:2px 8px}</style>"
                    + "\n".join(parts))
    return html
