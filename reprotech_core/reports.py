"""Customer herd reports: the tables a breeder reads, written as CSV and one HTML page.

Built through the database as the given identity, so a report holds only what row security
lets that identity see of the customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core.portal.exports import spreadsheet_frame
from reprotech_core.store.evaluations import latest_results, rankings


def herd_report(session: Session, customer: Customer, *, index_weights: dict[str, float]
                ) -> dict[str, pd.DataFrame]:
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
          LEFT JOIN LATERAL (SELECT qr.decision FROM core.qc_results qr
                              WHERE qr.sample_id = g.sample_id
                              ORDER BY qr.decided_at DESC LIMIT 1) q ON true
         WHERE a.customer_id = :c
         ORDER BY a.official_id
        """), params).mappings().all())
    summary = pd.DataFrame([{
        "customer": customer.code,
        "animals": len(animals),
        "females": int((animals["sex"] == "F").sum()) if len(animals) else 0,
        "genotyped": int(animals["genotype_call_rate"].notna().sum()) if len(animals) else 0,
        "genotype_qc_pass": int((animals["genotype_qc"] == "pass").sum()) if len(animals) else 0,
        "genotype_qc_review": int((animals["genotype_qc"] == "review").sum())
        if len(animals) else 0,
    }])
    ranking = rankings(latest_results(session, customer.id), index_weights)
    return {"summary": summary, "rankings": ranking.round(4), "animals": animals}


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
