"""Registering animals with their pedigree.

Parents are named by official ID and looked up in the same customer first, then in the
reference catalogue (AI sires). A batch may contain parents and their progeny in any order:
it is inserted generation by generation, parents first. The pedigree rules themselves (sexes,
birth order, loops, tier limits) are enforced by the database for every writer; this module
adds the checks only a whole batch can make (duplicates, loops inside the batch) so a file is
refused with every such problem named, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.tenancy import Customer, Herd
from reprotech_core import textfields
from reprotech_core.errors import RuleViolation
from reprotech_core.textfields import CODE, NAME, OFFICIAL_ID


@dataclass(frozen=True)
class AnimalRecord:
    official_id: str
    breed: str
    sex: str
    birth_date: date | None = None
    herd_code: str | None = None
    sire: str | None = None
    dam: str | None = None
    name: str | None = None
    management_number: str | None = None
    entry_date: date | None = None
    entry_status: str | None = None
    placeholder: bool = False  # a parent created only because a register named it


def _judged(records: list[AnimalRecord]) -> list[AnimalRecord]:
    """The batch with its names in NFC, after every text field of every record is judged
    (:mod:`reprotech_core.textfields`); one refusal lists all problems, nothing written."""
    found = [
        p for n, r in enumerate(records, 1)
        for kind, value, column, required in (
            (OFFICIAL_ID, r.official_id, "official_id", True), (NAME, r.name, "name", False),
            (NAME.longest(32), r.breed, "breed", True), (CODE, r.herd_code, "herd", False),
            (OFFICIAL_ID, r.sire, "sire", False), (OFFICIAL_ID, r.dam, "dam", False),
            (CODE, r.management_number, "management_number", False),
            (NAME.longest(32), r.entry_status, "entry_status", False))
        for p in textfields.problems(kind, value, column=column, required=required,
                                     record=f"animal {n} ({r.official_id!r})")]
    if found:
        raise textfields.RecordRefused(found)
    return [replace(r, name=r.name and textfields.normalized(r.name),
                    breed=textfields.normalized(r.breed)) for r in records]


def _generations(records: list[AnimalRecord]) -> list[list[AnimalRecord]]:
    """Order a batch so parents inside it come before their progeny; refuse loops."""
    by_id = {r.official_id: r for r in records}
    depth: dict[str, int] = {}

    def level(oid: str, path: tuple[str, ...]) -> int:
        if oid in depth:
            return depth[oid]
        if oid in path:
            loop = " -> ".join((*path[path.index(oid):], oid))
            raise RuleViolation("pedigree.loop", f"pedigree loop in the batch: {loop}")
        rec = by_id[oid]
        parents = [p for p in (rec.sire, rec.dam) if p in by_id]
        depth[oid] = 1 + max((level(p, (*path, oid)) for p in parents), default=-1)
        return depth[oid]

    for r in records:
        level(r.official_id, ())
    out: list[list[AnimalRecord]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for r in records:
        out[depth[r.official_id]].append(r)
    return out


def register_animals(
    session: Session, customer: Customer, records: Iterable[AnimalRecord]
) -> dict[str, int]:
    """Insert a batch of animals for ``customer``; returns official ID -> id.

    All or nothing: the caller's transaction rolls back on the first refused record; text
    that breaks a rule of :mod:`reprotech_core.textfields` is refused before any query.
    """
    batch = _judged(list(records))
    seen: set[str] = set()
    dupes = sorted({r.official_id for r in batch if r.official_id in seen or seen.add(r.official_id)})
    if dupes:
        raise RuleViolation(
            "animal.duplicate_in_batch", f"animal IDs given twice in the batch: {', '.join(dupes[:10])}"
        )
    existing = set(
        session.scalars(
            select(Animal.official_id).where(
                Animal.customer_id == customer.id, Animal.official_id.in_(seen)
            )
        )
    )
    if existing:
        raise RuleViolation(
            "animal.duplicate",
            f"customer {customer.code}: animals already registered: "
            f"{', '.join(sorted(existing)[:10])}",
        )
    herds = dict(
        session.execute(select(Herd.code, Herd.id).where(Herd.customer_id == customer.id)).all()
    )
    wanted_parents = {p for r in batch for p in (r.sire, r.dam) if p and p not in seen}
    known = _lookup_parents(session, customer, wanted_parents)
    ids: dict[str, int] = {}
    for generation in _generations(batch):
        rows = []
        for r in generation:
            if r.herd_code is not None and r.herd_code not in herds:
                raise RuleViolation(
                    "animal.herd_unknown",
                    f"animal {r.official_id}: herd {r.herd_code!r} is not a herd of {customer.code}",
                )
            rows.append(
                {
                    "customer_id": customer.id,
                    "herd_id": herds.get(r.herd_code) if r.herd_code else None,
                    "official_id": r.official_id,
                    "name": r.name,
                    "breed": r.breed,
                    "sex": r.sex,
                    "birth_date": r.birth_date,
                    "sire_id": _parent_id(r, r.sire, "sire", ids, known),
                    "dam_id": _parent_id(r, r.dam, "dam", ids, known),
                    "management_number": r.management_number,
                    "entry_date": r.entry_date,
                    "entry_status": r.entry_status,
                    "placeholder": r.placeholder,
                }
            )
        if rows:
            result = session.execute(
                insert(Animal).returning(Animal.official_id, Animal.id), rows
            )
            ids.update(dict(result.all()))
    return ids


def _lookup_parents(session: Session, customer: Customer, wanted: set[str]) -> dict[str, int]:
    """Parents by official ID: the customer's own animal, else the reference catalogue's.

    An ID found in several reference catalogues and not in the customer is ambiguous and
    refused rather than guessed.
    """
    if not wanted:
        return {}
    rows = session.execute(
        select(Animal.official_id, Animal.id, Animal.customer_id)
        .join(Customer, Customer.id == Animal.customer_id)
        .where(
            Animal.official_id.in_(wanted),
            (Animal.customer_id == customer.id) | (Customer.kind == "reference"),
        )
    ).all()
    own = {oid: aid for oid, aid, cid in rows if cid == customer.id}
    reference: dict[str, list[int]] = {}
    for oid, aid, cid in rows:
        if cid != customer.id:
            reference.setdefault(oid, []).append(aid)
    ambiguous = sorted(oid for oid, ids in reference.items() if len(ids) > 1 and oid not in own)
    if ambiguous:
        raise RuleViolation("pedigree.parent_ambiguous", "parents found in several reference "
                            f"catalogues: {', '.join(ambiguous[:10])}")
    return {oid: ids[0] for oid, ids in reference.items()} | own


def _parent_id(
    rec: AnimalRecord, parent: str | None, role: str, batch: dict[str, int], known: dict[str, int]
) -> int | None:
    if parent is None:
        return None
    if parent in batch:
        return batch[parent]
    if parent in known:
        return known[parent]
    raise RuleViolation(
        "pedigree.parent_unknown",
        f"animal {rec.official_id}: {role} {parent!r} is not an animal of this customer "
        "or of the reference catalogue",
    )


#: Fields :func:`update_animals` may change; parents and herd by official ID and herd code.
UPDATABLE = ("name", "sex", "birth_date", "breed", "herd", "sire", "dam", "management_number",
             "entry_date", "entry_status", "placeholder")


@dataclass(frozen=True)
class AnimalUpdate:
    """New values of some fields of one stored animal (``herd`` a herd code, ``sire`` and
    ``dam`` official IDs; None clears the field)."""

    official_id: str
    fields: dict[str, Any]


def update_animals(session: Session, customer: Customer, updates: Iterable[AnimalUpdate]) -> int:
    """Change stored animals of ``customer``; returns how many rows changed.

    Why through the ORM, one row at a time: the audit trigger on ``core.animals`` records each
    old and new row with the session's reason, and the pedigree triggers judge each change
    like any other writer's. Give the updates parents first, so a corrected parent is stored
    before its calf is judged against it. Parents resolve like :func:`register_animals`'s
    (the customer's own animal, else the reference catalogue's)."""
    updates = list(updates)
    unknown = sorted({f for u in updates for f in u.fields} - set(UPDATABLE))
    if unknown:
        raise ValueError(f"fields that cannot be updated: {', '.join(unknown)}")
    problems = [
        p for u in updates
        for kind, column in ((NAME, "name"), (NAME.longest(32), "breed"), (CODE, "herd"),
                             (OFFICIAL_ID, "sire"), (OFFICIAL_ID, "dam"),
                             (CODE, "management_number"), (NAME.longest(32), "entry_status"))
        if column in u.fields
        for p in textfields.problems(kind, u.fields[column], column=column,
                                     record=f"animal {u.official_id!r}",
                                     required=column == "breed")]
    if problems:
        raise textfields.RecordRefused(problems)
    animals = {a.official_id: a for a in session.scalars(select(Animal).where(
        Animal.customer_id == customer.id,
        Animal.official_id.in_([u.official_id for u in updates])))}
    herds = dict(session.execute(select(Herd.code, Herd.id).where(
        Herd.customer_id == customer.id)).all())
    parents = _lookup_parents(session, customer, {
        v for u in updates for k, v in u.fields.items() if k in ("sire", "dam") and v})
    for u in updates:
        animal = animals.get(u.official_id)
        if animal is None:
            raise RuleViolation("animal.unknown", f"customer {customer.code}: no animal "
                                f"{u.official_id}")
        for column, value in u.fields.items():
            if column == "herd":
                if value is not None and value not in herds:
                    raise RuleViolation("animal.herd_unknown", f"animal {u.official_id}: herd "
                                        f"{value!r} is not a herd of {customer.code}")
                animal.herd_id = herds.get(value) if value else None
            elif column in ("sire", "dam"):
                if value is not None and value not in parents:
                    raise RuleViolation("pedigree.parent_unknown", (
                        f"animal {u.official_id}: {column} {value!r} is not an animal of this "
                        "customer or of the reference catalogue"))
                setattr(animal, f"{column}_id", parents.get(value) if value else None)
            else:
                setattr(animal, column, textfields.normalized(value)
                        if isinstance(value, str) and column in ("name", "breed") else value)
        session.flush()  # one UPDATE now: the triggers judge it before the next animal's
    return len(updates)
