"""An invoice or credit note as a PDF document (fpdf2), set in DejaVu Sans (Latin with every
accent, Greek, Cyrillic and more) with tables whose cells wrap rather than overflow. A
character the font cannot print (CJK, say) is refused by name before anything is issued
(``invoice.glyphs``), never printed as a blank.

Pure: it lays out what it is given and reads nothing but the font files. Amounts arrive as
exact decimals and are printed as they are (two places), never through floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from reprotech_core.errors import RuleViolation

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


@dataclass(frozen=True)
class Line:
    performed_on: date
    description: str
    quantity: int
    unit_price: Decimal
    net: Decimal


@dataclass(frozen=True)
class Document:
    kind: str  # "invoice" or "credit_note"
    number: str
    issued_on: date
    due_on: date | None
    period: tuple[date, date]
    issuer: list[str]
    customer_name: str
    customer_code: str
    lines: list[Line]
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    total: Decimal
    currency: str
    credit_for: str | None = None
    reason: str | None = None


def money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _fonts(pdf: FPDF, folder: Path) -> None:
    for style, name in FONT_FILES.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"the invoice font {name} is not in {folder}: install Debian's "
                "fonts-dejavu-core (./run does when it is missing) or set pdf_font_dir")
        pdf.add_font("DejaVu", style, str(path))


def _printable(pdf: FPDF, doc: Document) -> None:
    """Refuse, by name, text the font cannot print: an invoice never goes out with a blank
    where a customer's name should be."""
    cmap = pdf.fonts["dejavu"].cmap
    texts = [doc.customer_name, doc.reason or "", *doc.issuer,
             *(line.description for line in doc.lines)]
    missing = sorted({ch for t in texts for ch in t if not ch.isspace() and ord(ch) not in cmap})
    if missing:
        raise RuleViolation("invoice.glyphs", f"invoice {doc.number}: the invoice font has no "
                            f"glyph for {' '.join(missing)} (in {doc.customer_name!r} or a "
                            "line); nothing was issued")


def render(doc: Document, font_dir: Path) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(f"{doc.number} {doc.customer_name}")
    _fonts(pdf, font_dir)
    _printable(pdf, doc)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 11)
    for n, line in enumerate(doc.issuer):
        pdf.cell(0, 5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if n == 0:
            pdf.set_font("DejaVu", "", 9)
    pdf.ln(6)
    pdf.set_font("DejaVu", "B", 16)
    title = "Invoice" if doc.kind == "invoice" else "Credit note"
    pdf.cell(0, 9, f"{title} {doc.number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 10)
    facts = [("Customer", f"{doc.customer_name} ({doc.customer_code})"),
             ("Issued on", doc.issued_on.isoformat()),
             ("Services performed", f"{doc.period[0].isoformat()} to "
                                    f"{doc.period[1].isoformat()}")]
    if doc.due_on is not None:
        facts.append(("Due on", doc.due_on.isoformat()))
    if doc.credit_for:
        facts.append(("Credits invoice", doc.credit_for))
    if doc.reason:
        facts.append(("Reason", doc.reason))
    with pdf.table(col_widths=(40, 150), first_row_as_headings=False, borders_layout="NONE",
                   line_height=6) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(col_widths=(22, 98, 14, 28, 28), line_height=5,
                   text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
                   headings_style=FontFace(family="DejaVu", emphasis="BOLD")) as table:
        head = table.row()
        for label in ("Date", "Service", "Qty", "Unit price", "Amount"):
            head.cell(label)
        for line in doc.lines:
            row = table.row()
            row.cell(line.performed_on.isoformat())
            row.cell(line.description)
            row.cell(str(line.quantity))
            row.cell(money(line.unit_price, doc.currency))
            row.cell(money(line.net, doc.currency))
    pdf.ln(3)
    sign = "-" if doc.kind == "credit_note" else ""
    with pdf.table(col_widths=(140, 50), first_row_as_headings=False, borders_layout="NONE",
                   text_align=("RIGHT", "RIGHT"), line_height=6) as table:
        for label, value in (("Net", doc.net), (f"VAT {doc.vat_percent}%", doc.vat),
                             ("Total", doc.total)):
            row = table.row()
            row.cell(label)
            row.cell(sign + money(value, doc.currency))
    return bytes(pdf.output())

