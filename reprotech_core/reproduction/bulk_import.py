"""Bulk import of breeding events from CSV or Excel: judged whole, written only when clean.

One row per event (``insemination``, ``pregnancy_check``, ``calving``, ``embryo_transfer``,
``exit``);
columns are the union of the events' fields (see :data:`COLUMNS`; a column may be left out when
no event of the file needs it). Every row is parsed and judged with the same rules as a form
entry (:class:`~reprotech_core.reproduction.book.HerdBook`), in date order so that a diagnosis
may follow its insemination in the same file. The report names line, column, rule and message
of every problem. A file with any problem writes nothing, unless the caller asks explicitly for
the clean rows. Re-importing a file is harmless: rows already stored identically are counted as
present and skipped; a row that contradicts a stored record is an error.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core.reproduction.book import HerdBook
from reprotech_core.reproduction.entry import Entry, check, write_accepted
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    ExitEntry,
    InseminationEntry,
    TransferEntry,
    day_of,
)

EVENTS = {  # event -> (fields it needs besides animal and date, order within a day)
    "insemination": (("bull",), 0),
    "embryo_transfer": (("embryo", "preservation"), 0),
    "pregnancy_check": (("method", "result"), 1),
    "calving": (("ease", "calf_sex"), 2),
    "exit": (("reason",), 3),  # last in its day: a cow may be checked, then sold
}
COLUMNS = ("event", "animal", "date", "bull", "semen_lot", "service_type", "technician",
           "method", "result", "days_pregnant", "embryo", "preservation", "ease", "calf",
           "calf_sex", "calf_number", "stillborn", "sire", "reason", "cause")
REQUIRED = ("event", "animal", "date")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOL = {"": False, "no": False, "false": False, "0": False, "yes": True, "true": True, "1": True}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    rule: str
    message: str


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    imported: dict[str, int] = field(default_factory=dict)
    present: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


class _BadValue(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, object]]]]:
    """Header and (line, row) pairs of a CSV (UTF-8, comma) or Excel (first sheet) file."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        book = load_workbook(path, read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]

        def excel() -> Iterator[tuple[int, dict[str, object]]]:
            for n, values in enumerate(rows, 2):
                if any(v not in (None, "") for v in values):
                    yield n, dict(zip(header, values, strict=False))
            book.close()
        return header, excel()
    handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the reader
    reader = csv.reader(handle)
    header = [c.strip() for c in next(reader, [])]

    def text_rows() -> Iterator[tuple[int, dict[str, object]]]:
        with handle:
            for values in reader:
                if any(v.strip() for v in values):
                    yield reader.line_num, dict(zip(header, values, strict=False))
    return header, text_rows()


def _text(row: dict, col: str) -> str | None:
    v = row.get(col)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _date(row: dict, col: str = "date") -> date:
    v = row.get(col)
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = _text(row, col)
    if s is None:
        raise _BadValue(col, "is empty")
    if not _ISO_DATE.match(s):
        raise _BadValue(col, f"{s!r} is not a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise _BadValue(col, f"{s!r} is not a calendar date") from None


def _int(row: dict, col: str, default: int | None = None) -> int | None:
    v = row.get(col)
    if isinstance(v, int | float) and float(v).is_integer():
        return int(v)
    s = _text(row, col)
    if s is None:
        return default
    try:
        return int(s)
    except ValueError:
        raise _BadValue(col, f"{s!r} is not a whole number") from None


def parse_row(row: dict[str, object]) -> Entry:
    """One row as an entry; :class:`_BadValue` names the column of the first bad value."""
    event = (_text(row, "event") or "").lower()
    if event not in EVENTS:
        raise _BadValue("event", f"{_text(row, 'event')!r} is not one of {', '.join(EVENTS)}")
    animal = _text(row, "animal")
    if animal is None:
        raise _BadValue("animal", "is empty")
    for col in EVENTS[event][0]:
        if _text(row, col) is None:
            raise _BadValue(col, f"is needed for a {event.replace('_', ' ')}")
    day = _date(row)
    tech = _text(row, "technician")
    if event == "insemination":
        return InseminationEntry(animal, _text(row, "bull"), day,
                                 (_text(row, "service_type") or "heat").lower(), tech,
                                 _text(row, "semen_lot"))
    if event == "pregnancy_check":
        return DiagnosisEntry(animal, day, _text(row, "method").lower(),
                              _text(row, "result").lower(), _int(row, "days_pregnant"), tech)
    if event == "embryo_transfer":
        return TransferEntry(animal, _text(row, "embryo"), day,
                             _text(row, "preservation").lower(), tech)
    if event == "exit":
        return ExitEntry(animal, day, _text(row, "reason").lower(), _text(row, "cause"))
    stillborn = (_text(row, "stillborn") or "").lower()
    if stillborn not in _BOOL:
        raise _BadValue("stillborn", f"{stillborn!r} is not yes or no")
    return CalvingEntry(animal, day, _int(row, "ease"), _text(row, "calf_sex").upper(),
                        _text(row, "calf"), _int(row, "calf_number", 1), _BOOL[stillborn],
                        _text(row, "sire"))


def _key(entry: Entry) -> tuple:
    """The natural key of an event: one service per cow and day, one diagnosis per cow and
    day, one calf number per calving."""
    match entry:
        case InseminationEntry():
            return ("service", entry.cow, entry.service_date)
        case TransferEntry():
            return ("service", entry.recipient, entry.transfer_date)
        case DiagnosisEntry():
            return ("diagnosis", entry.cow, entry.diagnosis_date)
        case CalvingEntry():
            return ("calving", entry.dam, entry.calving_date, entry.calf_number)
        case ExitEntry():
            return ("exit", entry.animal, entry.exit_date)
    raise TypeError(entry)


def import_events(session: Session, customer: Customer, path: Path, *,
                  clean_rows_only: bool = False, today: date | None = None) -> ImportReport:
    """Judge every row of ``path`` for ``customer``; write them all if all are clean (or, with
    ``clean_rows_only``, write the clean ones). The caller's transaction commits."""
    report = ImportReport(file=path.name)
    header, rows = read_rows(path)
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        where = ", ".join(unknown + missing) or "header"
        report.errors.append(RowError(1, where, "import.columns", (
            f"{path.name}: " + "; ".join(filter(None, [
                unknown and f"unknown column(s) {', '.join(unknown)}",
                missing and f"missing column(s) {', '.join(missing)}",
                len(set(header)) != len(header) and "a column is named twice"]))
            + f" (columns: {', '.join(COLUMNS)})")))
        return report
    parsed: list[tuple[int, Entry]] = []
    seen: dict[tuple, int] = {}
    for line, row in rows:
        report.rows += 1
        try:
            entry = parse_row(row)
        except _BadValue as bad:
            report.errors.append(RowError(line, bad.column, "import.value",
                                          f"line {line}, column {bad.column}: {bad}"))
            continue
        key = _key(entry)
        if key in seen:
            report.errors.append(RowError(line, "animal", "import.duplicate_row", (
                f"line {line}: the same {key[0]} of {key[1]} on {key[2]} is on line {seen[key]}")))
            continue
        seen[key] = line
        parsed.append((line, entry))
    if report.rows == 0:
        report.errors.append(RowError(1, "", "import.empty", f"{path.name}: no rows"))
    names = {n for _, e in parsed
             for f in ("cow", "bull", "dam", "calf", "sire", "recipient", "animal")
             if isinstance(n := getattr(e, f, None), str)}
    embryos = {e.embryo for _, e in parsed if isinstance(e, TransferEntry)}
    book = HerdBook.load(session, customer, animals=names, embryos=embryos, today=today)
    accepted = []
    counts: dict[str, int] = {}
    for line, entry in sorted(parsed, key=lambda x: (day_of(x[1]), _order(x[1]), x[0])):
        verdict = check(book, entry)
        if verdict.problems:
            report.errors += [RowError(line, p.column, p.rule, f"line {line}: {p.message}")
                              for p in verdict.problems]
        elif verdict.present:
            report.present += 1
        else:
            book.apply(entry, verdict)
            accepted.append((entry, verdict))
            kind = _event_name(entry)
            counts[kind] = counts.get(kind, 0) + 1
    report.errors.sort(key=lambda e: e.line)
    if report.errors and not clean_rows_only:
        return report
    write_accepted(session, customer, book, accepted)
    report.imported, report.written = counts, True
    return report


def _event_name(entry: Entry) -> str:
    return {InseminationEntry: "insemination", DiagnosisEntry: "pregnancy_check",
            CalvingEntry: "calving", TransferEntry: "embryo_transfer",
            ExitEntry: "exit"}[type(entry)]


def _order(entry: Entry) -> int:
    return EVENTS[_event_name(entry)][1]
