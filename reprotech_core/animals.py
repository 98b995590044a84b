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


def _judged(records: list[AnimalRecord]) -> list[AnimalRecord]:
    """The batch with its names in NFC, after every text field of every record is judged
    (:mod:`reprotech_core.textfields`); one refusal lists all problems, nothing written."""
    found = [
        p for n, r in enumerate(records, 1)
        for kind, value, column, required in (
            (OFFICIAL_ID, r.official_id, "official_id", True), (NAME, r.name, "name", False),
            (NAME.longest(32), r.breed, "breed", True), (CODE, r.herd_code, "herd", False),
            (OFFICIAL_ID, r.sire, "sire", False), (OFFICIAL_ID, r.dam, "dam", False))
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
