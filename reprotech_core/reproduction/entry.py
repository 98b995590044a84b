"""Recording reproduction events, one per call: the functions forms and notebooks use.

Each function takes the customer, one entry (plain values, see ``records``) and a ``Session``;
it judges the entry against the customer's herd book and raises :class:`RecordRefused` naming
the record and every rule it breaks, or writes it and returns the new row's id. Entering the
same record twice is harmless: an identical stored record is found and ``None`` returned.
:func:`write_accepted` is the one writer, shared with the bulk import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data_models.reproduction import (
    AnimalExit,
    Calving,
    Embryo,
    EmbryoFlush,
    EmbryoTransfer,
    HeatObservation,
    Insemination,
    InventoryMovement,
    IvfSession,
    PregnancyDiagnosis,
    SemenLot,
)
from data_models.tenancy import Customer
from reprotech_core import textfields
from reprotech_core.animals import register_animals
from reprotech_core.reproduction.book import Checked, HerdBook
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    EmbryoReceipt,
    ExitEntry,
    FlushEntry,
    HeatEntry,
    InseminationEntry,
    IvfEntry,
    Problem,
    RecordRefused,
    SemenReceipt,
    TransferEntry,
    animal_of,
    day_of,
)
from reprotech_core.textfields import CODE, LONG_CODE, NAME, OFFICIAL_ID, TextKind

Entry = (HeatEntry | InseminationEntry | DiagnosisEntry | CalvingEntry | TransferEntry | FlushEntry
         | IvfEntry | ExitEntry)


#: The text fields of entries and receipts: attribute -> (kind, the column a form or file
#: names it by). Limits follow the columns in ``data_models/reproduction.py``.
TEXT_FIELDS: dict[str, tuple[TextKind, str]] = {
    "cow": (OFFICIAL_ID, "animal"), "recipient": (OFFICIAL_ID, "animal"),
    "dam": (OFFICIAL_ID, "animal"), "animal": (OFFICIAL_ID, "animal"),
    "donor": (OFFICIAL_ID, "donor"), "bull": (OFFICIAL_ID, "bull"),
    "sire": (OFFICIAL_ID, "sire"), "calf": (OFFICIAL_ID, "calf"),
    "semen_lot": (LONG_CODE, "semen_lot"), "lot_code": (LONG_CODE, "lot"),
    "embryo": (LONG_CODE, "embryo"), "code": (LONG_CODE, "code"),
    "reference": (LONG_CODE, "reference"), "herd": (CODE, "herd"),
    "tank": (CODE, "tank"), "canister": (CODE, "canister"),
    "technician": (NAME.longest(64), "technician"), "cause": (NAME.longest(64), "cause"),
    "supplier": (NAME.longest(128), "supplier"),
}

E = TypeVar("E")


def judge_text(entry: E, record: str) -> tuple[E, list[Problem]]:
    """The entry with its text in NFC, and every problem of its text fields
    (:mod:`reprotech_core.textfields`): judged before the herd book so that a control
    character or an over-long note is refused by name, never stored or truncated."""
    found: list[Problem] = []
    clean: dict[str, str] = {}
    for name, (kind, column) in TEXT_FIELDS.items():
        value = getattr(entry, name, None)
        if value is None:
            continue
        found += textfields.problems(kind, value, column=column, record=record)
        clean[name] = textfields.normalized(value)
    return replace(entry, **clean), found


def check(book: HerdBook, entry: Entry) -> Checked:
    """Judge one entry against the book (no writes): its text first, then the herd book's
    rules on the entry as stored (NFC)."""
    entry, problems = judge_text(
        entry, f"{type(entry).__name__.removesuffix('Entry').lower()} of "
               f"{animal_of(entry)!r} on {day_of(entry)}")
    if problems:
        return Checked(problems=problems)
    match entry:
        case HeatEntry():
            return book.check_heat(entry)
        case InseminationEntry():
            return book.check_insemination(entry)
        case DiagnosisEntry():
            return book.check_diagnosis(entry)
        case CalvingEntry():
            return book.check_calving(entry)
        case TransferEntry():
            return book.check_transfer(entry)
        case FlushEntry() | IvfEntry():
            return book.check_production(entry)
        case ExitEntry():
            return book.check_exit(entry)
    raise TypeError(f"not a reproduction entry: {entry!r}")


def _names(entry: Entry) -> list[str]:
    fields = ("cow", "bull", "dam", "calf", "sire", "recipient", "donor", "animal")
    return [v for f in fields if isinstance(v := getattr(entry, f, None), str)]


def record(session: Session, customer: Customer, entry: Entry, *,
           today: date | None = None) -> int | None:
    """Judge and write one entry; the new record's id, or ``None`` if already stored."""
    embryo = getattr(entry, "embryo", None)
    book = HerdBook.load(session, customer, animals=_names(entry),
                         embryos=[embryo] if isinstance(embryo, str) else [], today=today)
    checked = check(book, entry)
    if checked.problems:
        raise RecordRefused(checked.problems)
    if checked.present:
        return None
    return write_accepted(session, customer, book, [(entry, checked)])[0]


def record_heat(session: Session, customer: Customer, entry: HeatEntry,
                **kw: object) -> int | None:
    """Record a heat seen in a cow (served or not); seen again the same day: ``None``."""
    return record(session, customer, entry, **kw)


def record_insemination(session: Session, customer: Customer, entry: InseminationEntry,
                        **kw: object) -> int | None:
    return record(session, customer, entry, **kw)


def record_diagnosis(session: Session, customer: Customer, entry: DiagnosisEntry,
                     **kw: object) -> int | None:
    return record(session, customer, entry, **kw)


def record_calving(session: Session, customer: Customer, entry: CalvingEntry,
                   **kw: object) -> int | None:
    """Record a calving; a live calf is registered as a new animal with its genetic parents
    (the conceiving service's sire, and the cow or, after an embryo transfer, the donor)."""
    return record(session, customer, entry, **kw)


def record_transfer(session: Session, customer: Customer, entry: TransferEntry,
                    **kw: object) -> int | None:
    return record(session, customer, entry, **kw)


def record_flush(session: Session, customer: Customer, entry: FlushEntry,
                 **kw: object) -> int | None:
    """Record a flush and its graded embryos; transferable ones go into the donor's herd's
    stock (codes ``<donor>-F<yyyymmdd>-<n>``), the others are recorded as discarded."""
    return record(session, customer, entry, **kw)


def record_ivf_session(session: Session, customer: Customer, entry: IvfEntry,
                       **kw: object) -> int | None:
    """Record an OPU/IVF session; its graded blastocysts go into stock (``<donor>-V<date>-<n>``)."""
    return record(session, customer, entry, **kw)


def record_exit(session: Session, customer: Customer, entry: ExitEntry,
                **kw: object) -> int | None:
    """Record that an animal left the herd (sold, slaughter, died); refused if any of its
    events is dated after the exit, and no event may be recorded after it later."""
    return record(session, customer, entry, **kw)


def write_accepted(session: Session, customer: Customer, book: HerdBook,
                   accepted: Sequence[tuple[Entry, Checked]]) -> list[int | None]:
    """Write accepted entries in an order the database rules accept (productions, services,
    diagnoses, calvings, exits); returns the new ids in the order given (``None`` for present ones)."""
    ids: list[int | None] = [None] * len(accepted)
    todo = [(i, e, c) for i, (e, c) in enumerate(accepted) if not c.present and c.row]
    for i, e, c in todo:
        if isinstance(e, FlushEntry | IvfEntry):
            ids[i] = _write_production(session, book, e, c)
    for model, kind in ((HeatObservation, HeatEntry), (Insemination, InseminationEntry),
                        (EmbryoTransfer, TransferEntry),
                        (PregnancyDiagnosis, DiagnosisEntry)):
        batch = [(i, c.row) for i, e, c in todo if isinstance(e, kind)]
        for (i, _), new_id in zip(batch, insert_rows(session, model, [r for _, r in batch]),
                                  strict=True):
            ids[i] = new_id
    calvings = [(i, e, c) for i, e, c in todo if isinstance(e, CalvingEntry)]
    calves = [c.new_calf for _, _, c in calvings if c.new_calf is not None]
    calf_ids = register_animals(session, customer, calves) if calves else {}
    rows = [c.row | ({"calf_id": calf_ids[e.calf]} if c.new_calf else {}) for _, e, c in calvings]
    for (i, _, _), new_id in zip(calvings, insert_rows(session, Calving, rows), strict=True):
        ids[i] = new_id
    exits = [(i, c.row) for i, e, c in todo if isinstance(e, ExitEntry)]
    rows = [{k: v for k, v in r.items() if k != "animal"}
            | {"animal_id": r["animal_id"] or calf_ids[r["animal"]]} for _, r in exits]
    for (i, _), new_id in zip(exits, insert_rows(session, AnimalExit, rows), strict=True):
        ids[i] = new_id
    return ids


NATURAL_KEYS = {HeatObservation: ("cow_id", "heat_date"),
                Insemination: ("cow_id", "service_date"), EmbryoTransfer: ("embryo_id",),
                PregnancyDiagnosis: ("cow_id", "diagnosis_date"),
                Calving: ("dam_id", "calving_date", "calf_number"),
                AnimalExit: ("animal_id",)}


def insert_rows(session: Session, model: type, rows: list[dict]) -> list[int]:
    """Insert rows in one statement (``INSERT … SELECT FROM unnest(arrays)``), so row security
    and the statement-level rule, stock and audit triggers run once for the whole batch; the
    new ids in the order of ``rows``, matched on the table's natural key."""
    if not rows:
        return []
    table = model.__table__
    cols = list(rows[0])
    keys = NATURAL_KEYS[model]
    arrays = ", ".join(
        f"CAST(:{c} AS {table.c[c].type.compile(dialect=postgresql.dialect())}[])" for c in cols)
    result = session.execute(
        text(f"INSERT INTO {table.fullname} ({', '.join(cols)}) SELECT * FROM unnest({arrays}) "
             f"RETURNING id, {', '.join(keys)}"),
        {c: [r[c] for r in rows] for c in cols})
    by_key = {tuple(r[1:]): r[0] for r in result}
    return [by_key[tuple(row[k] for k in keys)] for row in rows]


def embryo_code(donor: str, kind: str, day: date, n: int) -> str:
    return f"{donor}-{kind}{day:%Y%m%d}-{n:02d}"


def _write_production(session: Session, book: HerdBook, e: FlushEntry | IvfEntry,
                      c: Checked) -> int:
    flush = isinstance(e, FlushEntry)
    model = EmbryoFlush if flush else IvfSession
    new_id = session.scalar(insert(model).returning(model.id), c.row)
    donor = book.animals[e.donor]
    day = e.flush_date if flush else e.opu_date
    rows = [{"customer_id": book.customer_id, "herd_id": donor.herd_id,
             "code": embryo_code(e.donor, "F" if flush else "V", day, n),
             "flush_id": new_id if flush else None, "ivf_session_id": None if flush else new_id,
             "donor_id": donor.id, "sire_id": c.row["sire_id"], "produced_on": day,
             "stage": g.stage, "quality": g.quality, "preservation": e.preservation,
             "status": "in_stock" if g.transferable else "discarded",
             "tank": e.tank, "canister": e.canister}
            for n, g in enumerate(e.embryos, 1)]
    if rows:
        session.execute(insert(Embryo), rows)
    return new_id


# -- inventory -------------------------------------------------------------------------------
RECEIPT_REFERENCE_INDEX = "uq_inventory_movements_customer_id_reference"


def receive_semen(session: Session, customer: Customer, entry: SemenReceipt, *,
                  today: date | None = None) -> int:
    """Straws received into a herd's tank and canister; returns the semen lot's id.

    With a ``reference`` (delivery note) already recorded with the same values nothing is
    written and the lot's id is returned; with other values the receipt is refused
    (``inventory.receipt_duplicate``). Without a reference every call counts its straws.
    """
    return receive_semen_many(session, customer, [entry], today=today)[0]


def receive_semen_many(session: Session, customer: Customer, entries: Sequence[SemenReceipt],
                       *, today: date | None = None) -> list[int]:
    """Several receipts judged together (all refused if one is) and written; lot ids (of the
    stored receipt for one already recorded under its reference)."""
    judged = [judge_text(e, f"semen receipt of lot {e.lot_code!r}") for e in entries]
    text_problems = [p for _, found in judged for p in found]
    if text_problems:
        raise RecordRefused(text_problems)
    entries = [e for e, _ in judged]
    book = HerdBook.load(session, customer, animals=[e.bull for e in entries], embryos=[],
                         today=today)
    checked = [book.check_receipt(e) for e in entries]
    present, repeats, reference_problems = _judge_references(
        entries, stored_receipts(session, customer.id, [e.reference for e in entries]))
    problems = [p for c in checked for p in c.problems] + reference_problems
    if problems:
        raise RecordRefused(problems)
    new = [(i, e, c) for i, (e, c) in enumerate(zip(entries, checked, strict=True))
           if i not in present and i not in repeats]
    lots: list[int] = [present.get(i, 0) for i in range(len(entries))]
    if not new:
        return lots
    keys = [tuple(c.row.values()) for _, _, c in new]
    straws: dict[tuple, int] = {}
    for key, (_, e, _) in zip(keys, new, strict=True):
        straws[key] = straws.get(key, 0) + e.straws
    cols = list(new[0][2].row)
    # One upsert for the batch: new lots are created with their straws, known ones topped up.
    result = session.execute(text(f"""
        INSERT INTO core.semen_lots ({", ".join(cols)}, straws_in_stock)
        SELECT * FROM unnest(CAST(:customer_id AS bigint[]), CAST(:herd_id AS bigint[]),
                             CAST(:bull_id AS bigint[]), CAST(:lot_code AS text[]),
                             CAST(:tank AS text[]), CAST(:canister AS text[]),
                             CAST(:straws AS integer[]))
        ON CONFLICT (herd_id, bull_id, lot_code, tank, canister) DO UPDATE
           SET straws_in_stock = semen_lots.straws_in_stock + EXCLUDED.straws_in_stock
        RETURNING id, {", ".join(cols)}"""),
        {**{c: [k[i] for k in straws] for i, c in enumerate(cols)},
         "straws": list(straws.values())})
    ids = {tuple(r[1:]): r[0] for r in result}
    for key, (i, _, _) in zip(keys, new, strict=True):
        lots[i] = ids[key]
    for i, j in repeats.items():
        lots[i] = lots[j]
    try:
        session.execute(insert(InventoryMovement), [
            {"customer_id": customer.id, "kind": "receipt", "semen_lot_id": lots[i],
             "straws": e.straws, "moved_on": e.received_on, "counterpart": e.supplier,
             "reference": e.reference}
            for i, e, _ in new])
    except IntegrityError as exc:
        # Another session recorded the same reference between our check and this insert.
        diag = getattr(exc.orig, "diag", None)
        if getattr(diag, "constraint_name", None) != RECEIPT_REFERENCE_INDEX:
            raise
        refs = ", ".join(sorted({e.reference for _, e, _ in new if e.reference}))
        raise RecordRefused([Problem(
            "inventory.receipt_duplicate", "reference",
            f"semen receipt: delivery note {refs} was recorded by another entry at the same "
            "moment; nothing was written (enter it again to compare with the stored one)")],
        ) from None
    return lots


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt recorded under a delivery-note reference, as the entry names it."""

    reference: str
    lot_id: int | None  # None: an embryo receipt
    herd: str | None
    bull: str | None
    lot_code: str | None
    tank: str | None
    canister: str | None
    straws: int | None
    received_on: date
    supplier: str | None
    embryo: str | None

    def describe(self) -> str:
        if self.lot_id is None:
            return f"the receipt of embryo {self.embryo} on {self.received_on}"
        source = f" from {self.supplier}" if self.supplier else ""
        return (f"{self.straws} straw(s) of {self.bull} lot {self.lot_code} into {self.herd}, "
                f"tank {self.tank}, canister {self.canister} on {self.received_on}{source}")


RECEIPT_FIELDS = ("herd", "bull", "lot_code", "tank", "canister", "straws", "received_on",
                  "supplier")


def stored_receipts(session: Session, customer_id: int,
                    references: Iterable[str | None]) -> dict[str, StoredReceipt]:
    """The customer's receipts recorded under these references (as the session sees them)."""
    wanted = sorted({r for r in references if r})
    if not wanted:
        return {}
    rows = session.execute(text("""
        SELECT m.reference, m.semen_lot_id AS lot_id, h.code AS herd, a.official_id AS bull,
               l.lot_code, l.tank, l.canister, m.straws, m.moved_on AS received_on,
               m.counterpart AS supplier, e.code AS embryo
          FROM core.inventory_movements m
          LEFT JOIN core.semen_lots l ON l.id = m.semen_lot_id
          LEFT JOIN core.herds h ON h.id = l.herd_id
          LEFT JOIN core.animals a ON a.id = l.bull_id
          LEFT JOIN core.embryos e ON e.id = m.embryo_id
         WHERE m.customer_id = :c AND m.kind = 'receipt' AND m.reference = ANY(:refs)"""),
        {"c": customer_id, "refs": wanted}).mappings()
    return {r["reference"]: StoredReceipt(**r) for r in rows}


def _judge_references(entries: Sequence[SemenReceipt], stored: dict[str, StoredReceipt],
                      ) -> tuple[dict[int, int], dict[int, int], list[Problem]]:
    """Entries already recorded under their reference (index -> stored lot id), entries
    repeating an earlier one of the batch (index -> that index), and the refusals of a
    reference given with other values than it was recorded (or first given) with."""
    present: dict[int, int] = {}
    repeats: dict[int, int] = {}
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, e in enumerate(entries):
        if not e.reference:
            continue
        rec = f"semen receipt of lot {e.lot_code} on {e.received_on}"
        known = stored.get(e.reference)
        if known is not None:
            differs = [f for f in RECEIPT_FIELDS if getattr(known, f) != getattr(e, f)]
            if known.lot_id is None:
                problems.append(Problem(
                    "inventory.receipt_duplicate", "reference",
                    f"{rec}: delivery note {e.reference} is already recorded for "
                    f"{known.describe()}"))
            elif differs:
                problems.append(Problem(
                    "inventory.receipt_duplicate", "reference",
                    f"{rec}: delivery note {e.reference} is already recorded as "
                    f"{known.describe()}; this entry differs in {', '.join(differs)}"))
            else:
                present[i] = known.lot_id
        elif e.reference in first:
            earlier = entries[first[e.reference]]
            differs = [f for f in RECEIPT_FIELDS if getattr(earlier, f) != getattr(e, f)]
            if differs:
                problems.append(Problem(
                    "inventory.receipt_duplicate", "reference",
                    f"{rec}: delivery note {e.reference} is given twice with different "
                    f"values ({', '.join(differs)})"))
            else:
                repeats[i] = first[e.reference]
        else:
            first[e.reference] = i
    return present, repeats, problems


def receive_embryos(session: Session, customer: Customer, entries: Sequence[EmbryoReceipt], *,
                    today: date | None = None) -> list[int]:
    """Embryos bought in, into a herd's stock (all refused if one is); their ids."""
    judged = [judge_text(e, f"receipt of embryo {e.code!r}") for e in entries]
    text_problems = [p for _, found in judged for p in found]
    if text_problems:
        raise RecordRefused(text_problems)
    entries = [e for e, _ in judged]
    names = [n for e in entries for n in (e.sire, e.donor) if n]
    book = HerdBook.load(session, customer, animals=names, embryos=[e.code for e in entries],
                         today=today)
    checked = [book.check_embryo_receipt(e) for e in entries]
    codes = [e.code for e in entries]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    problems = [p for c in checked for p in c.problems] + [
        Problem("embryo.duplicate", "code", f"embryo {c} is received twice") for c in dupes]
    if problems:
        raise RecordRefused(problems)
    ids = list(session.scalars(insert(Embryo).returning(Embryo.id, sort_by_parameter_order=True),
                               [c.row for c in checked]))
    session.execute(insert(InventoryMovement), [
        {"customer_id": customer.id, "kind": "receipt", "embryo_id": i, "moved_on": e.received_on,
         "counterpart": e.supplier} for i, e in zip(ids, entries, strict=True)])
    return ids


def _lot(session: Session, key: dict) -> int:
    found = session.scalar(select(SemenLot.id).filter_by(**key))
    if found is not None:
        return found
    return session.scalar(insert(SemenLot).returning(SemenLot.id), key)


def move_straws(session: Session, customer: Customer, lot_id: int, *, to_herd: str, tank: str,
                canister: str, straws: int, moved_on: date) -> int:
    """Move straws of a lot to another herd (or tank); returns the receiving lot's id. The lot
    is locked while its stock is checked and taken, so two moves at once cannot both spend
    the same straws."""
    lot = session.scalar(select(SemenLot).where(SemenLot.id == lot_id).with_for_update()
                         .execution_options(populate_existing=True))
    herd_id = session.scalar(text("SELECT id FROM core.herds WHERE customer_id = :c AND code = :h"),
                             {"c": customer.id, "h": to_herd})
    rec = f"transfer of {straws} straw(s) of lot {lot.lot_code if lot else lot_id} on {moved_on}"
    problems = _place_problems(rec, to_herd, tank, canister)
    if straws <= 0:
        problems.append(Problem("inventory.straws", "straws",
                                f"{rec}: a transfer moves at least one straw"))
    if lot is None or lot.customer_id != customer.id:
        problems.append(Problem("inventory.lot_unknown", "lot", f"{rec}: no such lot"))
    elif straws > lot.straws_in_stock:
        problems.append(Problem("inventory.out_of_stock", "straws",
                                f"{rec}: {lot.straws_in_stock} straw(s) in stock"))
    problems += _move_problems(rec, moved_on, tank, canister)
    if herd_id is None:
        problems.append(Problem("repro.herd_unknown", "herd",
                                f"{rec}: herd {to_herd!r} is not a herd of {customer.code}"))
    if problems:
        raise RecordRefused(problems)
    target = _lot(session, {"customer_id": customer.id, "herd_id": herd_id,
                            "bull_id": lot.bull_id, "lot_code": lot.lot_code, "tank": tank,
                            "canister": canister})
    if target == lot.id:
        return target
    session.execute(update(SemenLot).where(SemenLot.id == lot.id)
                    .values(straws_in_stock=SemenLot.straws_in_stock - straws))
    session.execute(update(SemenLot).where(SemenLot.id == target)
                    .values(straws_in_stock=SemenLot.straws_in_stock + straws))
    session.add_all([
        InventoryMovement(customer_id=customer.id, kind="transfer_out", semen_lot_id=lot.id,
                          straws=straws, moved_on=moved_on, counterpart=to_herd),
        InventoryMovement(customer_id=customer.id, kind="transfer_in", semen_lot_id=target,
                          straws=straws, moved_on=moved_on,
                          counterpart=session.scalar(text(
                              "SELECT code FROM core.herds WHERE id = :h"), {"h": lot.herd_id}))])
    session.flush()
    return target


def move_embryo(session: Session, customer: Customer, code: str, *, to_herd: str,
                tank: str | None, canister: str | None, moved_on: date) -> None:
    """Move an embryo in stock to another herd's tank (nothing is written if it is there)."""
    embryo = session.scalar(select(Embryo).where(Embryo.customer_id == customer.id,
                                                 Embryo.code == code).with_for_update()
                           .execution_options(populate_existing=True))
    herd_id = session.scalar(text("SELECT id FROM core.herds WHERE customer_id = :c AND code = :h"),
                             {"c": customer.id, "h": to_herd})
    rec = f"transfer of embryo {code!r} to herd {to_herd!r} on {moved_on}"
    problems = (textfields.problems(LONG_CODE, code, column="embryo", record=rec)
                + _place_problems(rec, to_herd, tank, canister))
    if embryo is None:
        problems.append(Problem("embryo.unknown", "embryo", f"{rec}: no such embryo"))
    elif embryo.status != "in_stock":
        problems.append(Problem("embryo.not_in_stock", "embryo",
                                f"{rec}: the embryo is {embryo.status.replace('_', ' ')}"))
    problems += _move_problems(rec, moved_on, tank, canister, location_needed=False)
    if herd_id is None:
        problems.append(Problem("repro.herd_unknown", "herd",
                                f"{rec}: herd {to_herd!r} is not a herd of {customer.code}"))
    if problems:
        raise RecordRefused(problems)
    from_herd = embryo.herd_id
    if (from_herd, embryo.tank, embryo.canister) == (herd_id, tank, canister):
        return
    embryo.herd_id, embryo.tank, embryo.canister = herd_id, tank, canister
    session.add_all([
        InventoryMovement(customer_id=customer.id, kind="transfer_out", embryo_id=embryo.id,
                          moved_on=moved_on, counterpart=to_herd),
        InventoryMovement(customer_id=customer.id, kind="transfer_in", embryo_id=embryo.id,
                          moved_on=moved_on, counterpart=session.scalar(text(
                              "SELECT code FROM core.herds WHERE id = :h"), {"h": from_herd}))])
    session.flush()


def _move_problems(rec: str, moved_on: date, tank: str | None, canister: str | None, *,
                   location_needed: bool = True) -> list[Problem]:
    problems = []
    if moved_on > date.today():
        problems.append(Problem("repro.future_date", "date", f"{rec}: {moved_on} is in the future"))
    if location_needed and (not tank or not canister):
        problems.append(Problem("inventory.location", "tank",
                                f"{rec}: the receiving tank and canister are needed"))
    return problems


def _place_problems(rec: str, herd: str | None, tank: str | None,
                    canister: str | None) -> list[Problem]:
    """The text problems of where a move goes (herd, tank and canister codes)."""
    return [p for kind, value, column in ((CODE, herd, "herd"), (CODE, tank, "tank"),
                                          (CODE, canister, "canister"))
            for p in textfields.problems(kind, value, column=column, record=rec)]
