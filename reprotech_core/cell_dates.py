"""Dates in the cells of an imported table: one rule for every import.

A date is accepted as ISO text ``YYYY-MM-DD`` or as a real date cell of an Excel workbook
(openpyxl reads a cell formatted as a date as a ``datetime``). Everything else is refused, and a
date written in a local form is refused *by its form*: ``03/04/2023`` is "day-first or
month-first (DD/MM/YYYY or MM/DD/YYYY)", ``25.03.2023`` "day-first (DD.MM.YYYY)",
``2023/04/03`` "YYYY/MM/DD", ``03/04/23`` a two-digit year; each message ends "write
YYYY-MM-DD". A number (an Excel date serial in a cell formatted as a number) is refused too.

Why not read a file day-first when one of its dates decides it (a day above 12)? Because one
row cannot vouch for the others: a file put together from a German and an American export, or
typed by two people, has one deciding row and hundreds that are then read with days and months
silently swapped, and nothing downstream can tell. Saving a column as ``YYYY-MM-DD`` once costs
the user a minute; a wrong calving date costs a season's fertility figures.

When *every* date of a column is written in a local form (a whole export in the office's
format), the import reports that once for the column, naming its first line
(:func:`local_date_column`), instead of once per row.

The rule's name belongs to the caller (``records.date_format``, ``register.date``,
``pheno.date``, ``import.value``), so each import's reports keep their names; the functions
here only say why a value is not a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMERIC = re.compile(r"^(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})$")
WRITE_ISO = "write dates as YYYY-MM-DD (e.g. 2023-04-03)"


class NotADate(ValueError):
    """A cell that is not a date as the imports take them; the message says why."""


def local_form(text: str) -> str | None:
    """How ``text`` writes a date when it is a numeric date other than ``YYYY-MM-DD``
    (``"day-first or month-first (DD/MM/YYYY or MM/DD/YYYY)"``), or None when it is none."""
    m = _NUMERIC.match(text.strip())
    if not m or ISO_DATE.match(text.strip()):
        return None
    first, sep, middle, last = m.groups()
    if len(first) == 4 and len(last) <= 2:
        if sep == "-":
            return "YYYY-M-D, without the leading zeros"
        return f"year-first with {sep!r} (YYYY{sep}MM{sep}DD)"
    if len(first) > 2 or len(last) not in (2, 4):
        return None
    year = "Y" * len(last)
    day_first, month_first = f"DD{sep}MM{sep}{year}", f"MM{sep}DD{sep}{year}"
    two_digit = ", a two-digit year" if len(last) == 2 else ""
    a, b = int(first), int(middle)
    if a > 12 >= b:
        return f"day-first ({day_first}{two_digit})"
    if b > 12 >= a:
        return f"month-first ({month_first}{two_digit})"
    return f"day-first or month-first ({day_first} or {month_first}{two_digit})"


def cell_date(value: object) -> date | None:
    """The date in a cell (None when blank); :class:`NotADate` says why a value is not one."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise NotADate(f"{value!r} is a number, not a date (an Excel date serial? format the "
                       f"cells as dates, or {WRITE_ISO})")
    text = str(value).strip()
    if not text:
        return None
    if ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise NotADate(f"{text!r} is not a calendar date") from None
    form = local_form(text)
    if form:
        raise NotADate(f"{text!r} is written {form}, which is refused rather than guessed; "
                       f"{WRITE_ISO}")
    raise NotADate(f"{text!r} is not a date; {WRITE_ISO}")


def local_date_column(cells: Iterable[tuple[int, object]]) -> tuple[int, str] | None:
    """``(first line, reason)`` when every non-blank cell of a date column, given as
    ``(line, value)``, is a date in a local form; None otherwise (also for an empty column)."""
    first: tuple[int, str, str] | None = None
    for line, value in cells:
        if isinstance(value, date):
            return None  # a real date cell: the column is not a local export as a whole
        if value is None or not str(value).strip():
            continue
        form = local_form(str(value))
        if form is None:
            return None
        if first is None:
            first = (line, str(value).strip(), form)
    if first is None:
        return None
    line, text, form = first
    return line, (f"every date of this column is written in a local form (the first, "
                  f"{text!r}, {form}): the file is refused rather than guessed; {WRITE_ISO}")
