"""What the data-entry forms call: one event, one uploaded file, or a semen/embryo receipt or
move, and the stock those forms pick from. Vets and technicians enter work for the customers
assigned to them ("Record work"); a farmer enters the events of their own herd
(:func:`own_farm`, the customer portal's "Record events").

A form hands over the same fields as a bulk-import row (``bulk_import.COLUMNS``), so a record
entered by hand and a row of a file are parsed and judged by the same code
(``bulk_import.parse_row`` and the herd book), and a refusal reads the same in both. Inventory
forms hand over their fields to the inventory functions of :mod:`~.entry`, which judge them by
the same rules as a notebook or the CLI. The customer is looked up under row security: a vet or
technician can only pick a customer they are assigned to, whatever the form sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.reproduction import Embryo
from data_models.tenancy import Customer, Herd
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import bulk_import, entry, queries
from reprotech_core.reproduction.records import (
    CalvingEntry,
    EmbryoGrade,
    EmbryoReceipt,
    FlushEntry,
    IvfEntry,
    Problem,
    RecordRefused,
    SemenReceipt,
)
from reprotech_core.roles import has_permission
from reprotech_core.settings import get_settings
from reprotech_core.uploads import UploadRefused, private_copy

UPLOAD_SUFFIXES = (".csv", ".xlsx")


@dataclass(frozen=True)
class Outcome:
    """What happened to one entered event."""

    event: str
    record_id: int | None  # None: the identical record was already stored (or nothing to do)
    note: str = ""  # what the record changed, or why nothing changed

    @property
    def message(self) -> str:
        name = self.event.replace("_", " ")
        if self.record_id is None:
            return self.note or f"This {name} was already recorded; nothing changed."
        head = f"The {name} is recorded (record {self.record_id})."
        return f"{head} {self.note}" if self.note else head


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


def own_farm(session: Session, customer_id: int | None) -> tuple[str, str]:
    """(code, name) of a customer user's own farm, read under row security: the farm a
    farmer's entries are for, whatever a URL or a form says. ``NotFound`` for staff (no
    customer of their own) or a farm the session does not see."""
    found = None if customer_id is None else session.execute(
        select(Customer.code, Customer.name).where(Customer.id == customer_id,
                                                   Customer.kind == "farm")).one_or_none()
    if found is None:
        raise NotFound("no farm of your own")
    return found.code, found.name


def record_event(session: Session, customer_code: str, fields: dict[str, object], *,
                 today: date | None = None) -> Outcome:
    """Parse, judge and write one event for a customer; :class:`RecordRefused` lists every
    problem (a value that cannot be read is one, named by its field).

    A live calf is registered with its calving, which writes the herd register
    (``animals:write``): for someone without that permission (a customer user) such a calving
    is refused as ``calving.calf_not_allowed`` before anything is judged or written."""
    farm = customer(session, customer_code)
    row = {k: ("" if v is None else v) for k, v in fields.items()}
    try:
        parsed = bulk_import.parse_row(row)
    except ValueError as bad:  # bulk_import's bad-value error names its column
        column = getattr(bad, "column", "")
        raise RecordRefused([Problem("entry.value", column, f"{column}: {bad}")]) from None
    if (isinstance(parsed, CalvingEntry) and parsed.calf
            and not has_permission(session, "animals:write")):
        raise RecordRefused([Problem(
            "calving.calf_not_allowed", "calf",
            f"calving of {parsed.dam!r} on {parsed.calving_date}: registering the calf "
            f"{parsed.calf!r} in the herd book is for your farm's administrator or your vet")])
    event = str(row["event"]).lower()
    return Outcome(event, entry.record(session, farm, parsed, today=today))


def parse_grades(text: str, column: str = "embryos") -> list[EmbryoGrade]:
    """Embryo grades as typed on a form: ``stage/quality`` pairs separated by commas or spaces
    (``"7/1, 7/2 5/3"``); the herd book judges the ranges (IETS stage 1-9, quality 1-4)."""
    grades = []
    for token in text.replace(",", " ").split():
        stage, sep, quality = token.partition("/")
        if not sep or not stage.isdigit() or not quality.isdigit():
            raise RecordRefused([Problem("entry.value", column,
                                         f"{column}: {token!r} is not stage/quality, e.g. 7/1")])
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


def _text(fields: dict[str, object], name: str) -> str | None:
    return str(fields.get(name) or "").strip() or None


def _day(fields: dict[str, object], name: str = "date") -> date:
    """A date picker's value, or a date typed as YYYY-MM-DD."""
    value = fields.get(name)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    typed = str(value or "").strip()
    try:
        if len(typed) != 10:
            raise ValueError(typed)
        return date.fromisoformat(typed)
    except ValueError:
        raise RecordRefused([Problem("entry.value", name,
                                     f"{name}: {typed!r} is not a date as YYYY-MM-DD")]) from None


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

    The name and size (setting ``upload_web_max_mb``) are checked before anything is parsed.
    The content is stored under a name of our own in a private temporary folder
    (:func:`~reprotech_core.uploads.private_copy`): the browser's file name only labels the
    report, so no name (``../../x.csv``, ``/etc/x.csv``, ``..``) can place it elsewhere. The
    file is then judged whole by ``bulk_import.import_events`` (the same upload checks and
    reader as ``reprotech repro import``) and the caller's transaction commits what it wrote.
    A file that is not what its name says is refused as ``import.unreadable``; one that cannot
    be read as a table, with the reader's rule naming line and column.
    """
    name = upload_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise RuleViolation("import.file_type",
                            f"{name}: upload a .csv or .xlsx file of breeding events")
    limit = get_settings().web_upload_max_bytes
    if len(content) > limit:
        raise RuleViolation("import.file_size",
                            f"{name}: {len(content):,} bytes is over the "
                            f"{limit:,}-byte limit of an upload; use "
                            "`reprotech repro import` for bigger files")
    if not content:
        raise RuleViolation("import.empty", f"{name}: the file is empty")
    farm = customer(session, customer_code)
    with private_copy(content, suffix=suffix) as path:
        try:
            return bulk_import.import_events(session, farm, path, name=name,
                                             max_bytes=limit,
                                             clean_rows_only=clean_rows_only, today=today)
        except UploadRefused as refused:
            raise RuleViolation("import.unreadable", str(refused)) from None


def upload_name(filename: str) -> str:
    """The last part of a browser-sent file name, without control characters, at most 255
    characters: what messages call the upload."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    shown = "".join(c for c in base if c.isprintable())[:255].strip()
    return shown if shown not in ("", ".", "..") else "upload"


# -- semen and embryo inventory ------------------------------------------------------------------
@dataclass(frozen=True)
class Inventory:
    """What the inventory forms of one customer pick from: herd codes and the stock."""

    herds: list[str]
    semen: pd.DataFrame  # queries.SEMEN_STOCK_COLUMNS
    embryos: pd.DataFrame  # queries.EMBRYO_STOCK_COLUMNS

    def lot_choices(self) -> dict[str, int]:
        """Lots in stock as a picker shows them (``label -> lot id``)."""
        return {f"{r.bull} lot {r.lot} · {r.herd} {r.tank}/{r.canister} · {r.straws} straw(s)":
                int(r.lot_id) for r in self.semen.itertuples()}

    def embryo_choices(self) -> dict[str, str]:
        return {f"{r.code} ({r.grade}, {r.preservation}) · {r.herd}"
                f"{f' {r.tank}/{r.canister}' if r.tank else ''}": r.code
                for r in self.embryos.itertuples()}


def inventory(session: Session, customer_code: str) -> Inventory:
    """The customer's herds and its semen and embryo stock, read under row security."""
    farm = customer(session, customer_code)
    herds = session.scalars(select(Herd.code).where(Herd.customer_id == farm.id)
                            .order_by(Herd.code)).all()
    return Inventory(list(herds), queries.semen_stock(session, farm.id),
                     queries.embryo_stock(session, farm.id))


def receive_semen(session: Session, customer_code: str, fields: dict[str, object], *,
                  today: date | None = None) -> Outcome:
    """Straws of a bull's lot received into a herd's tank and canister (``entry.receive_semen``).

    With a delivery note (``reference``) the receipt is recorded once: entered again with the
    same values nothing changes, with other values it is refused
    (``inventory.receipt_duplicate``). Without one a lot already in that place is topped up,
    so entering a receipt twice counts it twice."""
    farm = customer(session, customer_code)
    _required(fields, "herd", "bull", "lot", "tank", "canister", "straws", "date")
    receipt = SemenReceipt(herd=_text(fields, "herd"), bull=_text(fields, "bull"),
                           lot_code=_text(fields, "lot"), tank=_text(fields, "tank"),
                           canister=_text(fields, "canister"), straws=_count(fields, "straws"),
                           received_on=_day(fields), supplier=_text(fields, "supplier"),
                           reference=_text(fields, "reference"))
    known = entry.stored_receipts(session, farm.id, [receipt.reference])
    lot_id = entry.receive_semen(session, farm, receipt, today=today)
    if receipt.reference in known:
        return Outcome("semen_receipt", None,
                       f"Delivery note {receipt.reference} is already recorded (lot "
                       f"{receipt.lot_code} in {receipt.herd}); nothing changed.")
    note = "" if receipt.reference else (
        " Without a delivery note, entering this receipt again counts its straws again.")
    return Outcome("semen_receipt", lot_id,
                   f"{receipt.straws} straw(s) of {receipt.bull} lot {receipt.lot_code} into "
                   f"{receipt.herd}, tank {receipt.tank}, canister {receipt.canister}.{note}")


def receive_embryo(session: Session, customer_code: str, fields: dict[str, object], *,
                   today: date | None = None) -> Outcome:
    """An embryo bought in (``entry.receive_embryos``): its code, sire, donor if known, IETS
    grade as ``stage/quality``, production and receipt dates; a code already in the inventory
    is refused (``embryo.duplicate``)."""
    farm = customer(session, customer_code)
    _required(fields, "code", "sire", "grade", "herd", "produced", "date")
    grades = parse_grades(str(fields["grade"]), "grade")
    if len(grades) != 1:
        raise RecordRefused([Problem("entry.value", "grade",
                                     f"grade: {fields['grade']!r} is not one stage/quality, "
                                     "e.g. 7/1")])
    receipt = EmbryoReceipt(herd=_text(fields, "herd"), code=_text(fields, "code"),
                            sire=_text(fields, "sire"), stage=grades[0].stage,
                            quality=grades[0].quality, produced_on=_day(fields, "produced"),
                            received_on=_day(fields), donor=_text(fields, "donor"),
                            preservation=_text(fields, "preservation") or "frozen",
                            tank=_text(fields, "tank"), canister=_text(fields, "canister"),
                            supplier=_text(fields, "supplier"))
    [embryo_id] = entry.receive_embryos(session, farm, [receipt], today=today)
    return Outcome("embryo_receipt", embryo_id,
                   f"Embryo {receipt.code} is in stock in {receipt.herd}.")


def move_straws(session: Session, customer_code: str, fields: dict[str, object]) -> Outcome:
    """Straws of a lot in stock (``lot``: its id, from :meth:`Inventory.lot_choices`) moved to
    a herd's tank and canister (``entry.move_straws``); a lot of another customer is unknown."""
    farm = customer(session, customer_code)
    _required(fields, "lot", "straws", "herd", "tank", "canister", "date")
    lot_id, straws = _count(fields, "lot"), _count(fields, "straws")
    to = {"to_herd": _text(fields, "herd"), "tank": _text(fields, "tank"),
          "canister": _text(fields, "canister")}
    target = entry.move_straws(session, farm, lot_id, straws=straws, moved_on=_day(fields), **to)
    place = f"{to['to_herd']}, tank {to['tank']}, canister {to['canister']}"
    if target == lot_id:
        return Outcome("straw_move", None, f"The lot is already in {place}; nothing moved.")
    return Outcome("straw_move", target, f"{straws} straw(s) moved to {place}.")


def move_embryo(session: Session, customer_code: str, fields: dict[str, object]) -> Outcome:
    """An embryo in stock moved to a herd's tank and canister (``entry.move_embryo``)."""
    farm = customer(session, customer_code)
    _required(fields, "embryo", "herd", "date")
    code, herd = _text(fields, "embryo"), _text(fields, "herd")
    entry.move_embryo(session, farm, code, to_herd=herd, tank=_text(fields, "tank"),
                      canister=_text(fields, "canister"), moved_on=_day(fields))
    embryo_id = session.scalar(select(Embryo.id).where(Embryo.customer_id == farm.id,
                                                       Embryo.code == code))
    return Outcome("embryo_move", embryo_id, f"Embryo {code} is now in {herd}.")
