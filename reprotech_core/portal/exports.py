"""Downloads: the table on screen as CSV or Excel, and the PDF herd report (fpdf2).

The report is built from what the user's own session returned (``reprotech_core.reports``
builds the same tables for the nightly reports), so it holds only what row security let the
user see.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from reprotech_core.portal.herd import TRAIT_LABELS, HerdSummary
from reprotech_core.reproduction.kpis import HerdKpis


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def excel_bytes(frame: pd.DataFrame, *, sheet: str = "animals") -> bytes:
    buffer = io.BytesIO()
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"columns named twice cannot go to a spreadsheet: {dupes}")
    out = frame.copy()
    for col in out.columns:  # Excel has no timezone-aware datetimes
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def _latin1(value: object) -> str:
    """fpdf2's core fonts are Latin-1: keep what fits, replace the rest."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _latin1(value)


def _table(pdf: FPDF, frame: pd.DataFrame, widths: list[float]) -> None:
    pdf.set_font("helvetica", "B", 8)
    for col, w in zip(frame.columns, widths, strict=True):
        pdf.cell(w, 6, _latin1(col), border=1)
    pdf.ln()
    pdf.set_font("helvetica", "", 8)
    for row in frame.itertuples(index=False):
        for value, w in zip(row, widths, strict=True):
            pdf.cell(w, 5, _fmt(value), border=1)
        pdf.ln()


def herd_report_pdf(*, customer: str, summary: HerdSummary, top: pd.DataFrame,
                    kpis: HerdKpis | None, weights: Mapping[str, float]) -> bytes:
    """A few-page PDF: herd figures, index weights, the best animals, reproduction KPIs."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Herd report: {customer}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)
    pdf.cell(0, 6, f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by Reprotech Analytics",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 8, "Herd", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    share = summary.genotyped_share
    facts = [("Animals in the herd", f"{summary.in_herd} (of {summary.animals} recorded)"),
             ("Females / males in the herd", f"{summary.females} / {summary.males}"),
             ("Genotyped animals in the herd", f"{summary.genotyped}"
                           + (f" ({share:.0%})" if share is not None else "")),
             ("Genotype QC pass / review / fail",
              f"{summary.qc_pass} / {summary.qc_review} / {summary.qc_fail}"),
             ("Animals with released genomic results", summary.with_results)]
    _table(pdf, pd.DataFrame(facts, columns=["", "value"]), [90, 60])
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 8, "Selection index weights", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _table(pdf, pd.DataFrame([(TRAIT_LABELS.get(t, t), w) for t, w in weights.items()],
                             columns=["trait", "weight per unit"]), [90, 60])
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 8, "Best animals by index", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if top.empty:
        pdf.set_font("helvetica", "", 9)
        pdf.cell(0, 6, "No released genomic results yet.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        cols = [c for c in top.columns if c != "id"]
        _table(pdf, top[cols], [190 / len(cols)] * len(cols))
    if kpis is not None:
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 12)
        pdf.cell(0, 8, "Reproduction", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _table(pdf, pd.DataFrame([(k.replace("_", " "), v) for k, v in kpis.as_dict().items()],
                                 columns=["KPI", "value"]), [90, 60])
    return bytes(pdf.output())
