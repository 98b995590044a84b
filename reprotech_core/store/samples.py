"""Samples received by the lab: a barcode tied to a customer's animal.

They arrive as a sample sheet (CSV or Excel: ``barcode, animal[, tissue]``), read by
:func:`read_sample_sheet` through the platform's table reader, so a sheet in the wrong encoding,
with a ragged row or an over-long barcode is refused by line and column before anything is
stored; :func:`register_samples` then stores all of them or none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import Sample
from data_models.tenancy import Customer
from reprotech_core.errors import RuleViolation
from reprotech_core.table_files import TableError, column_lengths, open_table
from reprotech_core.uploads import check_upload, table_kind

SHEET_COLUMNS = ("barcode", "animal", "tissue")
REQUIRED = ("barcode", "animal")
MAX_LENGTHS = column_lengths({"barcode": Sample.barcode, "animal": Animal.official_id,
                              "tissue": Sample.tissue})


@dataclass(frozen=True)
class ReceivedSample:
    """One row of a sample sheet."""

    line: int
    barcode: str
    animal: str  # the animal's official ID
    tissue: str | None = None


def read_sample_sheet(path: str | Path, *, max_bytes: int,
                      name: str | None = None) -> list[ReceivedSample]:
    """The rows of a sample sheet, after the upload checks (size up to ``max_bytes``, a
    regular CSV or Excel file). Refuses, naming line and column: unknown or missing columns,
    an empty barcode or animal, a barcode twice in the sheet. ``name`` is the sheet's name in
    messages (a web upload is stored under a name of our own)."""
    path = Path(path)
    check_upload(path, max_bytes=max_bytes, kind=table_kind(path), name=name)
    with open_table(path, name=name, max_lengths=MAX_LENGTHS) as table:
        missing = [c for c in REQUIRED if c not in table.header]
        unknown = [c for c in table.header if c not in SHEET_COLUMNS]
        if missing or unknown:
            raise TableError("samples.columns", "; ".join(filter(None, [
                missing and f"missing column(s) {', '.join(missing)}",
                unknown and f"unknown column(s) {', '.join(unknown)}"]))
                + f" (columns: {', '.join(SHEET_COLUMNS)})", file=table.file,
                line=table.header_line)
        rows: list[ReceivedSample] = []
        first: dict[str, int] = {}
        for row in table:
            values = {c: _text(row.values.get(c)) for c in SHEET_COLUMNS}
            for column in REQUIRED:
                if values[column] is None:
                    raise TableError("samples.value", "is empty", file=table.file,
                                     line=row.line, column=column)
            barcode = values["barcode"]
            if barcode in first:
                raise TableError("samples.duplicate", f"barcode {barcode!r} is also on line "
                                 f"{first[barcode]}", file=table.file, line=row.line,
                                 column="barcode")
            first[barcode] = row.line
            rows.append(ReceivedSample(row.line, barcode, values["animal"], values["tissue"]))
    return rows


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


@dataclass(frozen=True)
class Registered:
    """What :func:`register_samples` did: the new samples (barcode -> id) and how many of the
    sheet's samples were already registered exactly so (a sheet sent twice changes nothing)."""

    new: dict[str, int]
    unchanged: int = 0

    def summary(self) -> str:
        before = f"; {self.unchanged} registered before" if self.unchanged else ""
        return (f"{len(self.new)} new sample(s) registered{before}"
                + ("; nothing to write" if not self.new else ""))


def register_samples(
    session: Session, customer: Customer, samples: Iterable[ReceivedSample],
) -> Registered:
    """Register received samples for ``customer``, all or none.

    Unknown animals are refused, and so is a barcode already registered to another animal,
    with every offender named. A barcode already registered to the same animal is unchanged:
    the lab re-sends sheets, and the second sending must neither fail nor duplicate.
    """
    received = list(samples)
    wanted = {s.animal for s in received}
    animals = dict(session.execute(
        select(Animal.official_id, Animal.id).where(
            Animal.customer_id == customer.id, Animal.official_id.in_(wanted))).all())
    unknown = sorted(wanted - animals.keys())
    if unknown:
        raise RuleViolation("sample.animal_unknown",
                            f"customer {customer.code}: no animals {', '.join(unknown[:10])}")
    stored = dict(session.execute(select(Sample.barcode, Sample.animal_id).where(
        Sample.barcode.in_([s.barcode for s in received]))).all())
    taken = sorted(s.barcode for s in received
                   if s.barcode in stored and stored[s.barcode] != animals[s.animal])
    if taken:
        raise RuleViolation("sample.barcode_taken",
                            f"barcodes already registered to another animal: "
                            f"{', '.join(taken[:10])}")
    fresh = [s for s in received if s.barcode not in stored]
    if not fresh:
        return Registered({}, len(received))
    rows = session.execute(
        insert(Sample).returning(Sample.barcode, Sample.id),
        [{"customer_id": customer.id, "animal_id": animals[s.animal], "barcode": s.barcode,
          "tissue": s.tissue} for s in fresh],
    )
    return Registered(dict(rows.all()), len(received) - len(fresh))
