"""Bulk import of breeding events from CSV or Excel: judged whole, written only when clean.

One row per event (``heat``, ``insemination``, ``pregnancy_check``, ``calving``,
``embryo_transfer``, ``exit``);
columns are the union of the events' fields (see :data:`COLUMNS`; a column may be left out when
no event of the file needs it). Every row is parsed and judged with the same rules as a form
entry (:class:`~reprotech_core.reproduction.book.HerdBook`), in date order so that a diagnosis
may follow its insemination in the same file. The report names line, column, rule and message
of every problem. A file with any problem writes nothing, unless the caller asks explicitly for
the clean rows. A file that cannot be read as a table at all (wrong encoding, broken quoting,
ragged rows, an over-long value, an unreadable workbook: see :mod:`reprotech_core.table_files`)
is refused whole with file, line and column, before any row is judged to be written. Re-importing a file is harmless: rows already stored identically are counted as
present and skipped; a row that contradicts a stored record is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.reproduction import (
    AnimalExit,
    Calving,
    Embryo,
    EmbryoTransfer,
    Insemination,
    PregnancyDiagnosis,
    SemenLot,
)
from data_models.tenancy import Customer
from reprotech_core.cell_dates import NotADate, cell_date, local_date_column
from reprotech_core.reproduction.book import HerdBook
from reprotech_core.reproduction.entry import Entry, check, write_accepted
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    ExitEntry,
    HeatEntry,
    InseminationEntry,
    TransferEntry,
    day_of,
)
from reprotech_core.settings import get_settings
from reprotech_core.table_files import Table, column_lengths, open_table
from reprotech_core.uploads import check_upload, table_kind

EVENTS = {  # event -> (fields it needs besides animal and date, order within a day)
    "heat": ((), 0),  # a heat seen (the cow may be served the same day)
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
# Longest value of each column: the database column's length for stored text; a date, number
# or keyword is short, so a longer value is not one (and would only bloat the report).
MAX_LENGTHS = column_lengths({
    "animal": Animal.official_id, "bull": Animal.official_id, "calf": Animal.official_id,
    "sire": Animal.official_id, "semen_lot": SemenLot.lot_code,
    "service_type": Insemination.service_type, "technician": Insemination.technician,
    "method": PregnancyDiagnosis.method, "result": PregnancyDiagnosis.result,
    "embryo": Embryo.code, "preservation": EmbryoTransfer.preservation,
    "calf_sex": Calving.calf_sex, "reason": AnimalExit.reason, "cause": AnimalExit.cause,
}) | dict.fromkeys(("event", "date", "days_pregnant", "ease", "calf_number", "stillborn"), 32)
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


def read_rows(path: Path, *, name: str | None = None) -> Table:
    """The events table of a CSV or Excel (one sheet) file, read and checked by
    :func:`~reprotech_core.table_files.open_table` (encoding, quoting, ragged rows, values
    longer than their database column); a context manager yielding :class:`Row` s."""
    return open_table(path, name=name, max_lengths=MAX_LENGTHS)


def _text(row: dict, col: str) -> str | None:
    v = row.get(col)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _date(row: dict, col: str = "date") -> date:
    try:
        day = cell_date(row.get(col))
    except NotADate as exc:
        raise _BadValue(col, str(exc)) from None
    if day is None:
        raise _BadValue(col, "is empty")
    return day


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
    if event == "heat":
        return HeatEntry(animal, day, tech)
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
        case HeatEntry():
            return ("heat", entry.cow, entry.heat_date)
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
                  name: str | None = None, max_bytes: int | None = None,
                  clean_rows_only: bool = False, today: date | None = None) -> ImportReport:
    """Judge every row of ``path`` for ``customer``; write them all if all are clean (or, with
    ``clean_rows_only``, write the clean ones). The caller's transaction commits.

    The file first passes the upload checks (size up to ``max_bytes``, by default the setting
    ``upload_max_mb``; a regular file of its kind), so the CLI and the web upload refuse the
    same files; a file that cannot be read as a table raises
    :class:`~reprotech_core.table_files.TableError` naming file, line and column, and nothing
    is written. ``name`` is the file's name in the report (an upload's own name)."""
    name = name or path.name
    limit = max_bytes if max_bytes is not None else get_settings().upload_max_mb * 2**20
    check_upload(path, max_bytes=limit, kind=table_kind(path), name=name)
    report = ImportReport(file=name)
    with read_rows(path, name=name) as table:
        unknown = [c for c in table.header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in table.header]
        if unknown or missing:
            report.errors.append(RowError(table.header_line, ", ".join(unknown + missing),
                                          "import.columns", (
                f"{name}: " + "; ".join(filter(None, [
                    unknown and f"unknown column(s) {', '.join(unknown)}",
                    missing and f"missing column(s) {', '.join(missing)}"]))
                + f" (columns: {', '.join(COLUMNS)})")))
            return report
        parsed = _parse_rows(table, report)
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


def _parse_rows(table: Table, report: ImportReport) -> list[tuple[int, Entry]]:
    """Every row as an entry with its line; bad values and repeated rows go to the report."""
    parsed: list[tuple[int, Entry]] = []
    seen: dict[tuple, int] = {}
    rows = list(table)
    local = local_date_column((row.line, row.values.get("date")) for row in rows)
    if local:
        report.errors.append(RowError(local[0], "date", "import.value",
                                      f"line {local[0]}, column date: {local[1]}"))
    for row in rows:
        report.rows += 1
        line = row.line
        try:
            entry = parse_row(row.values)
        except _BadValue as bad:
            if local and bad.column == "date":
                continue  # said once for the whole column
            report.errors.append(RowError(line, bad.column, "import.value",
                                          f"line {line}, column {bad.column}: {bad}"))
            continue
        key = _key(entry)
        if key in seen:
            report.errors.append(RowError(line, "animal", "import.duplicate_row", (
                f"line {line}: the same {key[0]} of {key[1]} on {key[2]} is on line "
                f"{seen[key]}")))
            continue
        seen[key] = line
        parsed.append((line, entry))
    return parsed


def _event_name(entry: Entry) -> str:
    return {HeatEntry: "heat", InseminationEntry: "insemination",
            DiagnosisEntry: "pregnancy_check",
            CalvingEntry: "calving", TransferEntry: "embryo_transfer",
            ExitEntry: "exit"}[type(entry)]


def _order(entry: Entry) -> int:
    return EVENTS[_event_name(entry)][1]
