"""Import of performance records from CSV or Excel: lactations, health events, numeric traits.

The shape is the breeding-event import's (:mod:`reprotech_core.reproduction.bulk_import`): the
whole file is judged first, every problem is reported with line, column and a named rule, and
nothing is written unless every row is clean. Records land in ``core.phenotypes`` under the
trait codes of :mod:`reprotech_core.records.traits`, through the caller's session, so row
security decides whose animals can be named and the audit trigger records every insert and
every corrected value.

Each row becomes one phenotype per value (a lactation row gives milk, fat and protein), keyed
as ``core.phenotypes`` is: animal, trait, date (a lactation's date is its calving date). Against
what is stored, a record is *new*, *unchanged* (re-importing a file changes nothing) or
*changed* (a corrected file updates the value, and the report says from what to what).

Rules (name: what it refuses):

- ``records.columns``: an unknown column or a missing required one (the header line)
- ``records.kind``: a header that is no kind's (lactations, health, traits)
- ``records.empty``: a required value left blank
- ``records.number``: a value that is not a (finite) number; a lactation number not whole
- ``records.date_format``: a date not written YYYY-MM-DD (or an Excel date cell): a day-first
  or month-first date is refused by its form, not guessed (03/04/2023 is ambiguous); a column
  whose dates are all in a local form is refused once, at its first line
  (:mod:`reprotech_core.cell_dates`)
- ``records.value_range``: a value outside :data:`~reprotech_core.records.traits.TRAIT_RANGES`
  (a unit or column mix-up), a lactation number outside 1-20
- ``records.unknown_event``: a health event not in the documented list
- ``records.unknown_trait``: a trait code the platform does not know (``core.traits``)
- ``records.duplicate``: the same animal, trait and date (or lactation number) twice in a file
- ``records.unknown_animal``: an ID that is not an animal of this customer (one that matches
  but for spaces or case is named as a hint, never matched silently)
- ``records.sex``: a lactation of a male
- ``records.date_order``: a record dated before the animal's birth
- ``records.future_date``: a record dated after today
- ``records.herd``: a ``herd`` value that is not the animal's herd
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.evaluation import Phenotype, Trait
from data_models.tenancy import Customer, Herd
from reprotech_core.cell_dates import NotADate, cell_date, local_date_column
from reprotech_core.records.traits import (
    HEALTH_EVENTS,
    LACTATION_NUMBERS,
    LACTATION_TRAITS,
    TRAIT_RANGES,
)
from reprotech_core.reproduction.bulk_import import RowError
from reprotech_core.settings import get_settings
from reprotech_core.table_files import Table, column_lengths, open_table
from reprotech_core.uploads import check_upload, table_kind

# kind -> (required columns, optional columns); ``herd`` is optional everywhere.
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lactations": (("animal", "lactation", "calving_date", "milk_kg"),
                   ("fat_kg", "protein_kg", "herd")),
    "health": (("animal", "date", "event"), ("herd",)),
    "traits": (("animal", "trait", "value", "date"), ("herd",)),
}
# One example row per kind: the downloadable template and the documentation show it.
EXAMPLES: dict[str, dict[str, str]] = {
    "lactations": {"animal": "DE0123456789", "lactation": "1", "calving_date": "2023-09-14",
                   "milk_kg": "9350", "fat_kg": "381", "protein_kg": "322", "herd": "H1"},
    "health": {"animal": "DE0123456789", "date": "2023-10-02", "event": "clinical_mastitis",
               "herd": "H1"},
    "traits": {"animal": "DE0123456789", "trait": "milk_production", "value": "9350",
               "date": "2023-09-14", "herd": "H1"},
}
MAX_LENGTHS = column_lengths({"animal": Animal.official_id, "herd": Herd.code,
                              "trait": Trait.code, "event": Trait.code}) | dict.fromkeys(
    ("lactation", "calving_date", "date", "milk_kg", "fat_kg", "protein_kg", "value"), 32)
STATUSES = ("new", "changed", "unchanged", "refused")
INSERT_CHUNK = 2000  # rows per multi-row INSERT (5 parameters each, far below 65,535)


@dataclass(frozen=True)
class Record:
    """One phenotype a row asks for: ``column`` is where its value was (for messages)."""

    line: int
    animal: str
    trait: str
    value: float
    recorded_on: date
    column: str
    herd: str | None = None


@dataclass(frozen=True)
class Judged:
    record: Record
    status: str  # new, changed, unchanged
    previous: float | None = None


@dataclass
class RecordsReport:
    """What an import found and did: every record with its status, every problem."""

    file: str
    kind: str
    rows: int = 0
    judged: list[Judged] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, status: str) -> int:
        if status == "refused":
            return len({e.line for e in self.errors})
        return sum(1 for j in self.judged if j.status == status)

    def summary(self) -> dict[str, int]:
        return {s: self.count(s) for s in STATUSES}

    def to_frame(self) -> pd.DataFrame:
        """One row per judged record (new, changed, unchanged) and per problem (refused): the
        dry-run report a person reads or downloads before committing."""
        rows = [{"line": j.record.line, "animal": j.record.animal, "trait": j.record.trait,
                 "date": j.record.recorded_on, "value": j.record.value, "status": j.status,
                 "previous": j.previous, "column": j.record.column, "rule": None,
                 "message": None} for j in self.judged]
        rows += [{"line": e.line, "animal": None, "trait": None, "date": None, "value": None,
                  "status": "refused", "previous": None, "column": e.column, "rule": e.rule,
                  "message": e.message} for e in self.errors]
        columns = ["line", "animal", "trait", "date", "value", "status", "previous", "column",
                   "rule", "message"]
        return pd.DataFrame(rows, columns=columns).sort_values("line", kind="stable",
                                                               ignore_index=True)


class _Bad(ValueError):
    def __init__(self, column: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.column, self.rule = column, rule


def kind_of(header: Iterable[str]) -> str | None:
    """The kind a header is (by the column only that kind has), or None."""
    cols = set(header)
    for kind, marker in (("lactations", "calving_date"), ("health", "event"),
                         ("traits", "trait")):
        if marker in cols:
            return kind
    return None


def write_template(kind: str, path: Path) -> Path:
    """A CSV with the kind's columns and one example row (what a person fills in)."""
    required, optional = KINDS[kind]
    pd.DataFrame([EXAMPLES[kind]], columns=[*required, *optional]).to_csv(path, index=False)
    return path


# -- one row: pure parsing ------------------------------------------------------------------
def _text(row: dict[str, Any], col: str) -> str | None:
    v = row.get(col)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _required(row: dict[str, Any], col: str) -> str:
    s = _text(row, col)
    if s is None:
        raise _Bad(col, "records.empty", f"{col} is empty")
    return s


def parse_date(row: dict[str, Any], col: str) -> date:
    """An ISO date or an Excel date cell (:func:`~reprotech_core.cell_dates.cell_date`);
    anything else is refused, never guessed."""
    try:
        day = cell_date(row.get(col))
    except NotADate as exc:
        raise _Bad(col, "records.date_format", str(exc)) from None
    if day is None:
        raise _Bad(col, "records.empty", f"{col} is empty")
    return day


def parse_number(row: dict[str, Any], col: str) -> float:
    v = row.get(col)
    if isinstance(v, bool):
        raise _Bad(col, "records.number", f"{v!r} is not a number")
    if isinstance(v, int | float):
        x = float(v)
    else:
        s = _required(row, col)
        try:
            x = float(s)
        except ValueError:
            raise _Bad(col, "records.number", f"{s!r} is not a number (write 9350.5, "
                       "without thousands separators or units)") from None
    if not math.isfinite(x):
        raise _Bad(col, "records.number", f"{x!r} is not a finite number")
    return x


def _in_range(trait: str, value: float, col: str) -> float:
    rng = TRAIT_RANGES.get(trait)
    if rng is not None and not rng.holds(value):
        raise _Bad(col, "records.value_range", f"{value:g} {rng.unit} is outside the plausible "
                   f"range of {trait} ({rng.low:g}-{rng.high:g} {rng.unit}): a unit or column "
                   "mix-up?")
    return value


def parse_row(kind: str, line: int, row: dict[str, Any]) -> list[Record]:
    """The phenotypes one row asks for; :class:`_Bad` names the column of the first problem."""
    animal, herd = _required(row, "animal"), _text(row, "herd")
    if kind == "lactations":
        number = parse_number(row, "lactation")
        if not number.is_integer() or not LACTATION_NUMBERS.holds(number):
            raise _Bad("lactation", "records.value_range", f"{number:g} is not a lactation "
                       "number (a whole number 1-20)")
        day = parse_date(row, "calving_date")
        out = []
        for col, (trait, _) in LACTATION_TRAITS.items():
            if col != "milk_kg" and _text(row, col) is None and not isinstance(
                    row.get(col), int | float):
                continue  # fat and protein may be missing from a lactation
            value = _in_range(trait, parse_number(row, col), col)
            out.append(Record(line, animal, trait, value, day, col, herd))
        return out
    if kind == "health":
        event = _required(row, "event").lower()
        if event not in HEALTH_EVENTS:
            raise _Bad("event", "records.unknown_event", f"{event!r} is not one of "
                       f"{', '.join(HEALTH_EVENTS)}")
        return [Record(line, animal, event, 1.0, parse_date(row, "date"), "event", herd)]
    trait = _required(row, "trait")
    value = _in_range(trait, parse_number(row, "value"), "value")
    return [Record(line, animal, trait, value, parse_date(row, "date"), "value", herd)]


# -- the file --------------------------------------------------------------------------------
def import_records(session: Session, customer: Customer, path: Path, *, kind: str | None = None,
                   dry_run: bool = False, name: str | None = None,
                   max_bytes: int | None = None, today: date | None = None,
                   progress: Callable[[int], None] | None = None) -> RecordsReport:
    """Judge every row of ``path`` for ``customer``; unless ``dry_run``, write all its records
    if all are clean. The caller's transaction commits (and its identity's row security
    applies). ``kind`` is read from the header when not given; ``progress`` is called with the
    number of rows read so far (every 1,000 rows and at the end)."""
    name = name or path.name
    limit = max_bytes if max_bytes is not None else get_settings().upload_max_mb * 2**20
    check_upload(path, max_bytes=limit, kind=table_kind(path), name=name)
    today = today or date.today()
    with open_table(path, name=name, max_lengths=MAX_LENGTHS) as table:
        kind = kind or kind_of(table.header)
        report = RecordsReport(file=name, kind=kind or "?")
        if kind not in KINDS:
            report.errors.append(RowError(table.header_line, ", ".join(table.header),
                                          "records.kind", f"{name}: the header is no kind's "
                                          f"({_columns_help()})"))
            return report
        if _header_problem(table, kind, report):
            return report
        records = _parse_rows(table, kind, report, progress)
    ids, stored = _judge(session, customer, records, report, today)
    report.errors.sort(key=lambda e: e.line)
    if report.errors or dry_run or not report.count("new") + report.count("changed"):
        return report
    _write(session, customer, report, ids, stored)
    report.written = True
    return report


def _columns_help() -> str:
    return "; ".join(f"{k}: {', '.join(r)} [{', '.join(o)}]" for k, (r, o) in KINDS.items())


def _header_problem(table: Table, kind: str, report: RecordsReport) -> bool:
    required, optional = KINDS[kind]
    unknown = [c for c in table.header if c not in required + optional]
    missing = [c for c in required if c not in table.header]
    if unknown or missing:
        report.errors.append(RowError(table.header_line, ", ".join(unknown + missing),
                                      "records.columns", f"{report.file}: " + "; ".join(
            filter(None, [unknown and f"unknown column(s) {', '.join(unknown)}",
                          missing and f"missing column(s) {', '.join(missing)}"]))
            + f" (a {kind} file has {', '.join(required)} [{', '.join(optional)}])"))
    return bool(unknown or missing)


def _parse_rows(table: Table, kind: str, report: RecordsReport,
                progress: Callable[[int], None] | None) -> list[Record]:
    records: list[Record] = []
    seen: dict[tuple, int] = {}
    rows = []
    for row in table:
        rows.append(row)
        report.rows += 1
        if progress and report.rows % 1000 == 0:
            progress(report.rows)
    date_col = "calving_date" if kind == "lactations" else "date"
    local = local_date_column((row.line, row.values.get(date_col)) for row in rows)
    if local:
        report.errors.append(RowError(local[0], date_col, "records.date_format",
                                      f"line {local[0]}, column {date_col}: {local[1]}"))
    for row in rows:
        try:
            parsed = parse_row(kind, row.line, row.values)
        except _Bad as bad:
            if local and bad.column == date_col:
                continue  # said once for the whole column
            report.errors.append(RowError(row.line, bad.column, bad.rule,
                                          f"line {row.line}, column {bad.column}: {bad}"))
            continue
        keys = [(r.animal, r.trait, r.recorded_on) for r in parsed]
        if kind == "lactations":
            keys.append((parsed[0].animal, "lactation", row.values.get("lactation")))
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None:
            report.errors.append(RowError(row.line, "animal", "records.duplicate", (
                f"line {row.line}: {parsed[0].animal}'s {kind} record of "
                f"{parsed[0].recorded_on} is already on line {first}")))
            continue
        seen.update(dict.fromkeys(keys, row.line))
        records += parsed
    if progress:
        progress(report.rows)
    return records


def _judge(session: Session, customer: Customer, records: list[Record], report: RecordsReport,
           today: date) -> tuple[dict[str, int], dict[tuple, tuple[int, float]]]:
    """Each record against the customer's animals (read under row security) and what is
    stored: problems to the report, the rest as new, changed or unchanged. Returns the animal
    ids by official ID and the stored phenotypes (id, value) by key, for the write."""
    names = {r.animal for r in records}
    animals = {oid: (aid, sex, born, herd) for oid, aid, sex, born, herd in session.execute(
        select(Animal.official_id, Animal.id, Animal.sex, Animal.birth_date, Herd.code)
        .outerjoin(Herd, Herd.id == Animal.herd_id)
        .where(Animal.customer_id == customer.id, Animal.official_id.in_(names)))}
    lookalikes = _lookalikes(session, customer, names - animals.keys())
    known_traits = set(session.scalars(select(Trait.code)))
    stored = {(aid, trait, day): (pid, value) for pid, aid, trait, day, value in session.execute(
        select(Phenotype.id, Phenotype.animal_id, Phenotype.trait, Phenotype.recorded_on,
               Phenotype.value)
        .where(Phenotype.customer_id == customer.id,
               Phenotype.trait.in_({r.trait for r in records})))
        } if records else {}
    refused: set[int] = set()
    for r in records:
        problem = _problem(r, animals.get(r.animal), known_traits, today,
                           lookalikes.get(_squeezed(r.animal)))
        if problem:
            if r.line not in refused:  # one message per row: the first problem
                refused.add(r.line)
                column, rule, message = problem
                report.errors.append(RowError(r.line, column, rule,
                                              f"line {r.line}, column {column}: {message}"))
            continue
        before = stored.get((animals[r.animal][0], r.trait, r.recorded_on))
        if before is None:
            report.judged.append(Judged(r, "new"))
        elif before[1] == r.value:
            report.judged.append(Judged(r, "unchanged", before[1]))
        else:
            report.judged.append(Judged(r, "changed", before[1]))
    report.judged = [j for j in report.judged if j.record.line not in refused]
    return {oid: a[0] for oid, a in animals.items()}, stored


def _squeezed(official_id: str) -> str:
    return "".join(official_id.split()).upper()


def _lookalikes(session: Session, customer: Customer, unknown: set[str]) -> dict[str, str]:
    """Stored IDs that an unknown ID matches but for spaces and case ('de 0123' for
    'DE0123'): named in the message, never matched silently (IDs are compared exactly, and
    two herd books may differ only in case)."""
    if not unknown:
        return {}
    squeezed = func.upper(func.replace(Animal.official_id, " ", ""))
    return dict(session.execute(select(squeezed, Animal.official_id).where(
        Animal.customer_id == customer.id, squeezed.in_({_squeezed(n) for n in unknown}))).all())


def _problem(r: Record, animal: tuple | None, known_traits: set[str], today: date,
             lookalike: str | None = None) -> tuple[str, str, str] | None:
    if animal is None:
        hint = f" (did you mean {lookalike}? IDs are matched exactly)" if lookalike else ""
        return "animal", "records.unknown_animal", (f"{r.animal!r} is not an animal of this "
                                                    f"customer{hint}")
    _, sex, born, herd = animal
    if r.trait not in known_traits:
        return "trait", "records.unknown_trait", f"{r.trait!r} is not a trait of the platform"
    if r.column in LACTATION_TRAITS and sex != "F":
        return "animal", "records.sex", f"{r.animal} is a male: a lactation is a cow's"
    date_col = "calving_date" if r.column in LACTATION_TRAITS else "date"
    if born is not None and r.recorded_on < born:
        return date_col, "records.date_order", (f"{r.recorded_on} is before {r.animal}'s birth "
                                                f"on {born}")
    if r.recorded_on > today:
        return date_col, "records.future_date", f"{r.recorded_on} is after today ({today})"
    if r.herd is not None and r.herd != herd:
        return "herd", "records.herd", f"{r.animal} is in herd {herd or '(none)'}, not {r.herd}"
    return None


def _write(session: Session, customer: Customer, report: RecordsReport, ids: dict[str, int],
           stored: dict[tuple, tuple[int, float]]) -> None:
    new = [{"customer_id": customer.id, "animal_id": ids[j.record.animal],
            "trait": j.record.trait, "value": j.record.value,
            "recorded_on": j.record.recorded_on} for j in report.judged if j.status == "new"]
    if new:
        insert_phenotypes(session, new)
    for j in report.judged:
        if j.status == "changed":
            pid = stored[(ids[j.record.animal], j.record.trait, j.record.recorded_on)][0]
            session.execute(update(Phenotype).where(Phenotype.id == pid)
                            .values(value=j.record.value))


def insert_phenotypes(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert phenotype rows as multi-row INSERTs: one statement per row (executemany) cost
    ~0.6 ms a row server-side, four times a COPY's (benchmarks/onboarding/RECORDS.md)."""
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(Phenotype).values(rows[start:start + INSERT_CHUNK]))
