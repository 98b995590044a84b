"""Helpers shared by test modules and fixtures."""

import io

from openpyxl import Workbook

from reprotech_core.db.scratch import free_port

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "workbook"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package; ./run test installs it when missing
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"]


def workbook(rows: list[list[object]], sheets: int = 1) -> bytes:
    """An .xlsx file's bytes: ``rows`` on the first sheet, then ``sheets - 1`` empty ones."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    for n in range(1, sheets):
        book.create_sheet(f"Sheet{n + 1}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
