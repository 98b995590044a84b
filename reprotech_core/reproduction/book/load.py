"""What the rules need to know about a customer: the records a set of entries touches, read
once per form session or import file, and the indexes kept on them as accepted records are
added (so that no rule scans every record)."""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Self

from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.tenancy import Customer

# The tables of embryo production and how a record names them; an exit must not precede them.
PRODUCTIONS = {"embryo_flushes": "embryo flush", "ivf_sessions": "OPU/IVF session"}


@dataclass
class BookAnimal:
    id: int | None  # None: registered by a pending calving
    official_id: str
    sex: str
    birth_date: date | None
    herd_id: int | None
    breed: str
    sire_id: int | None
    dam_id: int | None
    own: bool
    exit: tuple[date, str] | None = None  # (day, reason) it left the herd


@dataclass(frozen=True)
class Service:
    """An insemination (``ref`` = bull id) or embryo transfer (``ref`` = embryo id); ``sire_id``
    and ``dam_id`` are the genetic parents of a calf it conceives."""

    day: date
    kind: str
    ref: int
    sire_id: int | None
    dam_id: int | None


@dataclass
class BookEmbryo:
    id: int
    code: str
    status: str
    produced_on: date
    preservation: str
    donor_id: int | None
    sire_id: int | None


class BookRecords:
    """A customer's reproduction records as the rules see them; the rule families
    (:mod:`.services`, :mod:`.calvings`, :mod:`.production`, :mod:`.stock`) judge entries
    against them."""

    def __init__(self, customer: Customer, *, today: date | None = None) -> None:
        self.customer_id = customer.id
        self.customer_code = customer.code
        self.today = today or date.today()
        self.animals: dict[str, BookAnimal] = {}
        self.names: dict[int, str] = {}  # id -> official ID of every animal the book refers to
        self.herds: dict[int, str] = {}
        self.herd_ids: dict[str, int] = {}
        self.services: dict[int, list[Service]] = defaultdict(list)  # cow id -> by day
        self.diagnoses: dict[tuple[int, date], tuple] = {}
        self.heats: set[tuple[int, date]] = set()  # (cow id, day) of the heats seen
        self.calvings: dict[tuple[int, date, int], tuple] = {}
        self.calves: set[str] = set()  # calves already linked to a calving
        self.lots: dict[tuple[int, int, str], list[list[int]]] = defaultdict(list)
        self.embryos: dict[str, BookEmbryo] = {}
        self.productions: dict[tuple[str, int, date], int] = {}  # (kind, donor, day) -> sire
        self.exits: dict[str, tuple[date, str, str | None]] = {}  # official ID -> exit
        # cow id -> (day, what) of her latest diagnosis, calving, flush or OPU (services are
        # in ``services``): what an exit must not precede
        self.latest: dict[int, tuple[date, str]] = {}

    @classmethod
    def load(
        cls, session: Session, customer: Customer, *, animals: Iterable[str] | None = None,
        embryos: Iterable[str] | None = None, today: date | None = None,
    ) -> Self:
        """The book for ``animals`` (official IDs; ``None``: all of the customer's) and the
        embryos named (``None``: all of the customer's)."""
        book = cls(customer, today=today)
        names = None if animals is None else sorted(set(animals))
        params = {"c": customer.id, "names": names}
        rows = session.execute(text("""
            SELECT a.id, a.official_id, a.sex, a.birth_date, a.herd_id, a.breed, a.sire_id,
                   a.dam_id, a.customer_id = :c AS own, x.exit_date, x.reason, x.cause
              FROM core.animals a JOIN core.customers c ON c.id = a.customer_id
              LEFT JOIN core.animal_exits x ON x.animal_id = a.id AND a.customer_id = :c
             WHERE (a.customer_id = :c OR c.kind = 'reference')
               AND (CAST(:names AS text[]) IS NULL AND a.customer_id = :c
                    OR a.official_id = ANY (CAST(:names AS text[])))
             ORDER BY own"""), params)
        for r in rows:  # the customer's own animal wins over a reference one of the same ID
            book.animals[r.official_id] = BookAnimal(
                *r[:9], exit=(r.exit_date, r.reason) if r.exit_date else None)
            book.names[r.id] = r.official_id
            if r.exit_date:
                book.exits[r.official_id] = (r.exit_date, r.reason, r.cause)
        for hid, code in session.execute(
                text("SELECT id, code FROM core.herds WHERE customer_id = :c"), params):
            book.herds[hid] = code
            book.herd_ids[code] = hid
        cows = [a.id for a in book.animals.values() if a.own]
        book._load_events(session, cows)
        book._load_stock(session, None if embryos is None else sorted(set(embryos)))
        parents = [i for s in book.services.values() for x in s for i in (x.sire_id, x.dam_id)]
        parents += [i for a in book.animals.values() for i in (a.sire_id, a.dam_id)]
        missing = {i for i in parents if i is not None and i not in book.names}
        if missing:
            book.names.update({r.id: r.official_id for r in session.execute(text(
                "SELECT id, official_id FROM core.animals WHERE id = ANY (CAST(:ids AS int8[]))"),
                {"ids": sorted(missing)})})
        return book

    def _load_events(self, session: Session, cows: list[int]) -> None:
        p = {"c": self.customer_id, "cows": cows}
        for r in session.execute(text("""
                SELECT cow_id, service_date, bull_id FROM core.inseminations
                 WHERE customer_id = :c AND cow_id = ANY (CAST(:cows AS int8[]))"""), p):
            self.services[r.cow_id].append(Service(r.service_date, "ai", r.bull_id, r.bull_id,
                                                   r.cow_id))
        for r in session.execute(text("""
                SELECT t.recipient_id, t.transfer_date, t.embryo_id, e.sire_id, e.donor_id
                  FROM core.embryo_transfers t JOIN core.embryos e ON e.id = t.embryo_id
                 WHERE t.customer_id = :c
                   AND t.recipient_id = ANY (CAST(:cows AS int8[]))"""), p):
            self.services[r.recipient_id].append(Service(r.transfer_date, "et", r.embryo_id,
                                                         r.sire_id, r.donor_id))
        for services in self.services.values():
            services.sort(key=lambda s: s.day)
        for r in session.execute(text("""
                SELECT cow_id, heat_date FROM core.heat_observations
                 WHERE customer_id = :c AND cow_id = ANY (CAST(:cows AS int8[]))"""), p):
            self.heats.add((r.cow_id, r.heat_date))
            self.note(r.cow_id, r.heat_date, "heat")
        for r in session.execute(text("""
                SELECT cow_id, diagnosis_date, method, result, days_pregnant
                  FROM core.pregnancy_diagnoses
                 WHERE customer_id = :c AND cow_id = ANY (CAST(:cows AS int8[]))
                """), p):
            self.diagnoses[(r.cow_id, r.diagnosis_date)] = (r.method, r.result, r.days_pregnant)
            self.note(r.cow_id, r.diagnosis_date, "pregnancy diagnosis")
        for r in session.execute(text("""
                SELECT k.dam_id, k.calving_date, k.calf_number, k.ease, k.calf_sex, k.stillborn,
                       a.official_id AS calf
                  FROM core.calvings k LEFT JOIN core.animals a ON a.id = k.calf_id
                 WHERE k.customer_id = :c AND k.dam_id = ANY (CAST(:cows AS int8[]))"""), p):
            self.calvings[(r.dam_id, r.calving_date, r.calf_number)] = (
                r.ease, r.calf_sex, r.stillborn, r.calf)
            self.note(r.dam_id, r.calving_date, "calving")
        self.calves.update(session.scalars(text("""
            SELECT a.official_id FROM core.calvings k JOIN core.animals a ON a.id = k.calf_id
             WHERE k.customer_id = :c AND a.official_id = ANY (CAST(:names AS text[]))"""),
            {"c": self.customer_id, "names": [a.official_id for a in self.animals.values()]}))
        for table, day in (("embryo_flushes", "flush_date"), ("ivf_sessions", "opu_date")):
            for donor, d, sire in session.execute(text(
                    f"SELECT donor_id, {day}, sire_id FROM core.{table} "
                    "WHERE customer_id = :c AND donor_id = ANY (CAST(:cows AS int8[]))"), p):
                self.productions[(table, donor, d)] = sire
                self.note(donor, d, PRODUCTIONS[table])

    def _load_stock(self, session: Session, codes: list[str] | None) -> None:
        for r in session.execute(text("""
                SELECT id, herd_id, bull_id, lot_code, straws_in_stock FROM core.semen_lots
                 WHERE customer_id = :c ORDER BY id"""), {"c": self.customer_id}):
            self.lots[(r.herd_id, r.bull_id, r.lot_code)].append([r.id, r.straws_in_stock])
        for r in session.execute(text("""
                SELECT id, code, status, produced_on, preservation, donor_id, sire_id
                  FROM core.embryos WHERE customer_id = :c
                   AND (CAST(:codes AS text[]) IS NULL OR code = ANY (CAST(:codes AS text[])))"""),
                {"c": self.customer_id, "codes": codes}):
            self.embryos[r.code] = BookEmbryo(*r)

    # -- the indexes, kept as accepted records are added ------------------------------------
    def add_service(self, cow_id: int, service: Service) -> None:
        """Keep the cow's services in day order (after any of the same day, as on load)."""
        insort(self.services[cow_id], service, key=lambda s: s.day)

    def note(self, cow_id: int, day: date, what: str) -> None:
        """Remember the cow's latest heat, diagnosis, calving, flush or OPU for the exit
        rule."""
        if cow_id not in self.latest or day > self.latest[cow_id][0]:
            self.latest[cow_id] = (day, what)
