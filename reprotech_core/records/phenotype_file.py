"""The phenotype file of ``reprotech eval gblup``: one row per animal, one column per trait,
and the fixed effects by name.

A herd export carries more than traits: a birth date, a herd, a breed. Reading every column
but ``animal`` as a number failed on the first date with "could not convert string to float:
'2005-11-17'", which names neither the column nor the file. Here each column is one of these
things, decided by its name:

- ``animal``: the animal's ID (text);
- a fixed effect (:data:`FIXED_EFFECTS`, the class effects
  :func:`~reprotech_core.evaluation.design.class_design` fits): ``cg`` (text, a
  contemporary group formed elsewhere), ``herd`` (text),
  ``birth_year`` (a year), or ``birth_date`` (YYYY-MM-DD or an Excel date, the one date rule
  of :mod:`reprotech_core.cell_dates`, used as its year: the
  birth-year class of a contemporary-group model; refused with ``birth_year`` in the same
  file, which would be two versions of one effect);
- ``record_date`` (same date rule), the date of the row's records: with it the records are
  fitted in herd-year-season contemporary groups
  (:mod:`reprotech_core.evaluation.contemporary`, the same groups as a stored evaluation)
  instead of by herd; it needs ``herd`` and is refused next to ``cg`` (two versions of one
  effect; rule ``pheno.fixed_effect``);
- a trait: every other column, which must hold numbers (blank = not recorded). A non-numeric
  value is refused (rule ``pheno.not_numeric``) naming the file, line and column and saying
  which columns are used by name.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.cell_dates import NotADate, cell_date, local_date_column
from reprotech_core.evaluation.gblup import DEFAULT_FACTORS
from reprotech_core.table_files import TableError, open_table

FIXED_EFFECTS = DEFAULT_FACTORS  # cg, herd, birth_year: what the GBLUP model fits by name
RECORD_DATE = "record_date"
BY_NAME = ("animal", *FIXED_EFFECTS, "birth_date", RECORD_DATE)


def read_phenotype_file(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """The records (``animal``, the fixed effects present as text, the traits as floats) and
    the trait columns, in file order; a :class:`TableError` names file, line and column of the
    first value that is not what its column needs."""
    with open_table(path) as table:
        file, header = table.file, table.header
        if "animal" not in header:
            raise TableError("table.columns", f"missing column animal (has "
                             f"{', '.join(header)})", file=file, line=table.header_line)
        if "birth_date" in header and "birth_year" in header:
            raise TableError("pheno.fixed_effect", "give birth_date or birth_year, not both "
                             "(birth_date is used as its year)", file=file,
                             line=table.header_line, column="birth_date")
        if RECORD_DATE in header and "herd" not in header:
            raise TableError("pheno.fixed_effect", "record_date forms herd-year-season "
                             "contemporary groups and needs a herd column", file=file,
                             line=table.header_line, column=RECORD_DATE)
        if RECORD_DATE in header and "cg" in header:
            raise TableError("pheno.fixed_effect", "give cg or record_date, not both "
                             "(record_date forms the contemporary groups)", file=file,
                             line=table.header_line, column=RECORD_DATE)
        rows = list(table)
    lines = [r.line for r in rows]
    frame = pd.DataFrame([[None if v is None or (isinstance(v, str) and not v.strip())
                           else v.strip() if isinstance(v, str) else v
                           for v in r.values.values()] for r in rows], columns=header,
                         dtype=object)
    for col in ("birth_date", RECORD_DATE):
        if col in header:
            local = local_date_column(zip(lines, frame[col], strict=True))
            if local:
                raise TableError("pheno.date", local[1], file=file, line=local[0], column=col)
            frame[col] = [_date(v, file, line, col) for v, line in
                          zip(frame[col], lines, strict=True)]
    if "birth_date" in header:
        frame["birth_year"] = [None if d is None else str(d.year)
                               for d in frame.pop("birth_date")]
    for col in FIXED_EFFECTS:
        if col in frame:
            frame[col] = frame[col].map(lambda v: None if v is None else _label(v))
    traits = [c for c in frame.columns if c not in BY_NAME]
    for col in traits:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = (values.isna() & frame[col].notna()).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise TableError("pheno.not_numeric", (
                f"{frame[col].iloc[i]!r} is not a number: column {col!r} of {file} is read as "
                f"a trait; the columns used by name are {', '.join(BY_NAME)} (a fixed effect "
                "or the ID), so rename it to one of those or remove it"),
                file=file, line=lines[i], column=col)
        frame[col] = values.astype(float)
    return frame, traits


def _label(value: object) -> str:
    """A class label as text: an Excel year cell 2019.0 is the class '2019'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _date(value: object, file: str, line: int, column: str) -> date | None:
    try:
        return cell_date(value)
    except NotADate as exc:
        raise TableError("pheno.date", str(exc), file=file, line=line, column=column) from None
