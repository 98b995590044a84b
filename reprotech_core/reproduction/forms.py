"""What the data-entry forms of vets and technicians call: one event, or one uploaded file.

A form hands over the same fields as a bulk-import row (``bulk_import.COLUMNS``), so a record
entered by hand and a row of a file are parsed and judged by the same code
(``bulk_import.parse_row`` and the herd book), and a refusal reads the same in both. The
customer is looked up under row security: a vet or technician can only pick a customer they are
assigned to, whatever the form sends.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import bulk_import, entry
from reprotech_core.reproduction.records import (
    EmbryoGrade,
    FlushEntry,
    IvfEntry,
    Problem,
    RecordRefused,
)

UPLOAD_SUFFIXES = (".csv", ".xlsx")
MAX_UPLOAD_BYTES = 20 * 1024**2  # ~150,000 rows of CSV; bigger files go through the CLI


@dataclass(frozen=True)
class Outcome:
    """What happened to one entered event."""

    event: str
    record_id: int | None  # None: the identical record was already stored

    @property
    def message(self) -> str:
        name = self.event.replace("_", " ")
        if self.record_id is None:
            return f"This {name} was already recorded; nothing changed."
        return f"The {name} is recorded (record {self.record_id})."


def farms_for_entry(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the farms the signed-in user sees — their assigned customers."""
    rows = session.execute(
        select(Customer.code, Customer.name).where(Customer.kind == "farm").order_by(Customer.name)
    )
    return [(r.code, r.name) for r in rows]


def customer(session: Session, code: str) -> Customer:
    found = session.scalars(select(Customer).where(Customer.code == code)).one_or_none()
    if found is None:
        raise NotFound(f"no customer {code!r}")
    return found


def record_event(session: Session, customer_code: str, fields: dict[str, object], *,
                 today: date | None = None) -> Outcome:
    """Parse, judge and write one event for a customer; :class:`RecordRefused` lists every
    problem (a value that cannot be read is one, named by its field)."""
    farm = customer(session, customer_code)
    row = {k: ("" if v is None else v) for k, v in fields.items()}
    try:
        parsed = bulk_import.parse_row(row)
    except ValueError as bad:  # bulk_import's bad-value error names its column
        column = getattr(bad, "column", "")
        raise RecordRefused([Problem("entry.value", column, f"{column}: {bad}")]) from None
    event = str(row["event"]).lower()
    return Outcome(event, entry.record(session, farm, parsed, today=today))


def parse_grades(text: str) -> list[EmbryoGrade]:
    """Embryo grades as typed on a form: ``stage/quality`` pairs separated by commas or spaces
    (``"7/1, 7/2 5/3"``); the herd book judges the ranges (IETS stage 1-9, quality 1-4)."""
    grades = []
    for token in text.replace(",", " ").split():
        stage, sep, quality = token.partition("/")
        if not sep or not stage.isdigit() or not quality.isdigit():
            raise RecordRefused([Problem("entry.value", "embryos",
                                         f"embryos: {token!r} is not stage/quality, e.g. 7/1")])
        grades.append(EmbryoGrade(int(stage), int(quality)))
    return grades


def _count(fields: dict[str, object], name: str) -> int:
    value = str(fields.get(name) or "").strip()
    if not value.isdigit():
        raise RecordRefused([Problem("entry.value", name,
                                     f"{name}: {value!r} is not a whole number")])
    return int(value)


def _required(fields: dict[str, object], *names: str) -> None:
    missing = [n for n in names if not str(fields.get(n) or "").strip()]
    if missing:
        raise RecordRefused([Problem("entry.value", n, f"{n}: is needed") for n in missing])


def record_production(session: Session, customer_code: str, kind: str,
                      fields: dict[str, object], *, today: date | None = None) -> Outcome:
    """Record an embryo flush (``kind="flush"``) or an OPU/IVF session (``kind="ivf"``) from a
    form: donor, sire, date, the graded embryos kept, and for IVF the oocyte counts."""
    farm = customer(session, customer_code)
    _required(fields, "donor", "sire", "date")
    day = fields["date"]
    if not isinstance(day, date):
        raise RecordRefused([Problem("entry.value", "date", "date: choose a date")])
    grades = parse_grades(str(fields.get("embryos") or ""))
    common = {"donor": str(fields["donor"]).strip(), "sire": str(fields["sire"]).strip(),
              "embryos": grades, "preservation": str(fields.get("preservation") or "frozen"),
              "tank": str(fields.get("tank") or "").strip() or None,
              "canister": str(fields.get("canister") or "").strip() or None,
              "technician": str(fields.get("technician") or "").strip() or None}
    if kind == "flush":
        production = FlushEntry(flush_date=day, **common)
        event = "embryo_flush"
    elif kind == "ivf":
        production = IvfEntry(opu_date=day, oocytes_collected=_count(fields, "oocytes_collected"),
                              oocytes_cleaved=_count(fields, "oocytes_cleaved"),
                              blastocysts=_count(fields, "blastocysts"), **common)
        event = "OPU/IVF session"
    else:
        raise ValueError(f"unknown production kind {kind!r}")
    return Outcome(event, entry.record(session, farm, production, today=today))


def import_upload(session: Session, customer_code: str, filename: str, content: bytes, *,
                  clean_rows_only: bool = False,
                  today: date | None = None) -> bulk_import.ImportReport:
    """Import an uploaded CSV/Excel file of events for a customer (all or nothing by default).

    The name and size are checked before anything is parsed; the file is judged whole by
    ``bulk_import.import_events`` and the caller's transaction commits what it wrote.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise RuleViolation("import.file_type",
                            f"{filename}: upload a .csv or .xlsx file of breeding events")
    if len(content) > MAX_UPLOAD_BYTES:
        raise RuleViolation("import.file_size",
                            f"{filename}: {len(content):,} bytes is over the "
                            f"{MAX_UPLOAD_BYTES:,}-byte limit of an upload; use "
                            "`reprotech repro import` for bigger files")
    if not content:
        raise RuleViolation("import.empty", f"{filename}: the file is empty")
    farm = customer(session, customer_code)
    with tempfile.TemporaryDirectory(prefix="reprotech-upload-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(content)
        try:
            return bulk_import.import_events(session, farm, path, clean_rows_only=clean_rows_only,
                                             today=today)
        except (UnicodeDecodeError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # openpyxl and csv raise these on a file that is not what its name says
            raise RuleViolation("import.unreadable",
                                f"{filename}: not a readable {suffix} file ({exc})") from None
