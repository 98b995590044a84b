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

from reprotech_core.portal.herd import TRAIT_LABELS, HerdSummary, herd_summary, top_animals
from reprotech_core.reproduction.kpis import HerdKpis


#: What makes a spreadsheet read a text cell as a formula (or a DDE call): OWASP's list for
#: CSV injection, https://owasp.org/www-community/attacks/CSV_Injection
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A cell as a spreadsheet should read it: text starting like a formula gets a leading
    single quote (Excel and LibreOffice then show it as text), everything else is unchanged.

    Only text is touched: a number stays a number, so a GEBV of -1.5 exports as -1.5 and is
    numeric in the spreadsheet. Every CSV and Excel file the platform writes for people goes
    through here (:func:`spreadsheet_frame`, ``ops.portability``), since an official ID or a
    name such as ``=HYPERLINK(...)`` is whatever someone typed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column title passed through :func:`spreadsheet_cell`
    (numeric and date columns untouched)."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if (dtype == object or pd.api.types.is_string_dtype(dtype)
                or isinstance(dtype, pd.CategoricalDtype)):
            out[col] = out[col].map(spreadsheet_cell)
    out.columns = [spreadsheet_cell(c) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return spreadsheet_frame(frame).to_csv(index=False).encode("utf-8")


def excel_bytes(frame: pd.DataFrame, *, sheet: str = "animals") -> bytes:
    buffer = io.BytesIO()
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"columns named twice cannot go to a spreadsheet: {dupes}")
    out = spreadsheet_frame(frame)
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


def herd_report_of(*, customer: str, table: pd.DataFrame, run: int | None,
                   kpis: HerdKpis | None, weights: Mapping[str, float]) -> bytes:
    """The herd report PDF of a herd table (``portal.herd.herd_table``) and its released run:
    what the Downloads page offers and the nightly job delivers, made in one place."""
    return herd_report_pdf(customer=customer, summary=herd_summary(table, run),
                           top=top_animals(table, 15), kpis=kpis, weights=weights)
