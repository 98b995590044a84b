"""The herd book: what the reproduction rules need to know about a customer, and the rules.

A :class:`HerdBook` holds the animals, services, diagnoses, calvings, straws and embryos that a
set of records touches. Each ``check_*`` method judges one entry against it and returns every
broken rule (:class:`Problem`, naming record and rule) plus the row to write; ``apply`` then
adds the accepted record to the book, so the next entry of a form session or an import file is
judged with it. Nothing here writes: a whole file can be judged before anything is stored.

The database enforces the cheap rules again for every writer (migration 0006); the rules and
their codes are listed in docs/reproduction.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.reproduction import (
    DIAGNOSIS_METHODS,
    DIAGNOSIS_RESULTS,
    EXIT_REASONS,
    PRESERVATIONS,
    SERVICE_TYPES,
)
from data_models.tenancy import Customer
from reprotech_core.animals import AnimalRecord
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    EmbryoReceipt,
    ExitEntry,
    FlushEntry,
    InseminationEntry,
    IvfEntry,
    Problem,
    SemenReceipt,
    TransferEntry,
)

# Gestation in cattle is 279-290 days; a calf born 240-310 days after a service was conceived by
# it (earlier is an abortion, a pregnancy loss; later is not this service's calf).
GESTATION_MIN_DAYS = 240
GESTATION_MAX_DAYS = 310
FRESH_EMBRYO_MAX_DAYS = 1  # a fresh embryo is transferred the day it is produced, or the next


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


_PRODUCTION = {"embryo_flushes": "embryo flush", "ivf_sessions": "OPU/IVF session"}

# Roles an animal plays in its own herd's events; a bull's semen outlives him.
HERD_ROLES = ("cow", "dam", "donor", "recipient")


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


@dataclass
class Checked:
    """The verdict on one entry: problems, else the row to write (``present``: already stored
    identically, nothing to write)."""

    problems: list[Problem] = field(default_factory=list)
    row: dict | None = None
    present: bool = False
    new_calf: AnimalRecord | None = None
    lot_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class HerdBook:
    """A customer's reproduction records as the rules see them (see the module docstring)."""

    def __init__(self, customer: Customer, *, today: date | None = None) -> None:
        self.customer_id = customer.id
        self.customer_code = customer.code
        self.today = today or date.today()
        self.animals: dict[str, BookAnimal] = {}
        self.names: dict[int, str] = {}  # id -> official ID of every animal the book refers to
        self.herds: dict[int, str] = {}
        self.herd_ids: dict[str, int] = {}
        self.services: dict[int, list[Service]] = defaultdict(list)
        self.diagnoses: dict[tuple[int, date], tuple] = {}
        self.calvings: dict[tuple[int, date, int], tuple] = {}
        self.calves: set[str] = set()  # calves already linked to a calving
        self.lots: dict[tuple[int, int, str], list[list[int]]] = defaultdict(list)
        self.embryos: dict[str, BookEmbryo] = {}
        self.productions: dict[tuple[str, int, date], int] = {}  # (kind, donor, day) -> sire
        self.exits: dict[str, tuple[date, str, str | None]] = {}  # official ID -> exit
        # cow id -> (day, what) of her latest diagnosis, calving, flush or OPU (services are
        # in ``services``): what an exit must not precede
        self.latest: dict[int, tuple[date, str]] = {}

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(
        cls, session: Session, customer: Customer, *, animals: Iterable[str] | None = None,
        embryos: Iterable[str] | None = None, today: date | None = None,
    ) -> HerdBook:
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
                SELECT cow_id, diagnosis_date, method, result, days_pregnant
                  FROM core.pregnancy_diagnoses
                 WHERE customer_id = :c AND cow_id = ANY (CAST(:cows AS int8[]))
                """), p):
            self.diagnoses[(r.cow_id, r.diagnosis_date)] = (r.method, r.result, r.days_pregnant)
            self._note(r.cow_id, r.diagnosis_date, "pregnancy diagnosis")
        for r in session.execute(text("""
                SELECT k.dam_id, k.calving_date, k.calf_number, k.ease, k.calf_sex, k.stillborn,
                       a.official_id AS calf
                  FROM core.calvings k LEFT JOIN core.animals a ON a.id = k.calf_id
                 WHERE k.customer_id = :c AND k.dam_id = ANY (CAST(:cows AS int8[]))"""), p):
            self.calvings[(r.dam_id, r.calving_date, r.calf_number)] = (
                r.ease, r.calf_sex, r.stillborn, r.calf)
            self._note(r.dam_id, r.calving_date, "calving")
        self.calves.update(session.scalars(text("""
            SELECT a.official_id FROM core.calvings k JOIN core.animals a ON a.id = k.calf_id
             WHERE k.customer_id = :c AND a.official_id = ANY (CAST(:names AS text[]))"""),
            {"c": self.customer_id, "names": [a.official_id for a in self.animals.values()]}))
        for table, day in (("embryo_flushes", "flush_date"), ("ivf_sessions", "opu_date")):
            for donor, d, sire in session.execute(text(
                    f"SELECT donor_id, {day}, sire_id FROM core.{table} "
                    "WHERE customer_id = :c AND donor_id = ANY (CAST(:cows AS int8[]))"), p):
                self.productions[(table, donor, d)] = sire
                self._note(donor, d, _PRODUCTION[table])

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

    # -- shared checks -----------------------------------------------------------------------
    def animal(self, name: str | None, *, role: str, sex: str, record: str, on: date,
               column: str, problems: list[Problem], own: bool = True) -> BookAnimal | None:
        """The named animal if it is usable in this role, else ``None`` with the reason added."""
        a = self.animals.get(name or "")
        if a is None or (own and not a.own):
            where = "this customer" if own else "this customer or of the reference catalogue"
            problems.append(Problem("repro.animal_unknown", column,
                                    f"{record}: {role} {name!r} is not an animal of {where}"))
            return None
        if a.sex != sex:
            problems.append(Problem(f"repro.{role}_sex", column, (
                f"{record}: {role} {a.official_id} is {'male' if a.sex == 'M' else 'female'}; "
                f"a {role} must be {'male' if sex == 'M' else 'female'}")))
        if a.birth_date is not None and on < a.birth_date:
            problems.append(Problem("repro.before_birth", column,
                                    f"{record}: {role} {a.official_id} was born {a.birth_date}, "
                                    "after this date"))
        if a.id is None and role in HERD_ROLES:
            problems.append(Problem("repro.animal_pending", column, (
                f"{record}: {role} {a.official_id} is registered by a calving in the same "
                "batch; record her own events once that calving is stored")))
        if a.own and role in HERD_ROLES and a.exit is not None and on > a.exit[0]:
            problems.append(Problem("repro.after_exit", column,
                                    f"{record}: {role} {a.official_id} left the herd on "
                                    f"{a.exit[0]} ({a.exit[1]})"))
        return a

    def _date(self, day: date, record: str, column: str, problems: list[Problem]) -> None:
        if day > self.today:
            problems.append(Problem("repro.future_date", column,
                                    f"{record}: {day} is in the future"))

    def _choice(self, value: object, allowed: tuple, what: str, record: str, column: str,
                problems: list[Problem]) -> None:
        if value not in allowed:
            problems.append(Problem(f"repro.{what}", column, f"{record}: {what.replace('_', ' ')} "
                                    f"{value!r} is not one of {', '.join(map(str, allowed))}"))

    def service_on(self, cow_id: int, day: date) -> Service | None:
        return next((s for s in self.services.get(cow_id, ()) if s.day == day), None)

    def conceiving_service(self, cow_id: int, calving: date) -> Service | None:
        """The latest service 240-310 days before a calving: the one that conceived the calf."""
        window = [s for s in self.services.get(cow_id, ())
                  if GESTATION_MIN_DAYS <= (calving - s.day).days <= GESTATION_MAX_DAYS]
        return window[-1] if window else None

    # -- records -----------------------------------------------------------------------------
    def check_insemination(self, e: InseminationEntry) -> Checked:
        rec = f"insemination of {e.cow} on {e.service_date}"
        out = Checked()
        p = out.problems
        cow = self.animal(e.cow, role="cow", sex="F", record=rec, on=e.service_date,
                          column="animal", problems=p)
        bull = self.animal(e.bull, role="bull", sex="M", record=rec, on=e.service_date,
                           column="bull", problems=p, own=False)
        self._date(e.service_date, rec, "date", p)
        self._choice(e.service_type, SERVICE_TYPES, "service_type", rec, "service_type", p)
        if cow is None or bull is None:
            return out
        same_day = self.service_on(cow.id, e.service_date) if cow.id else None
        if same_day is not None:
            if same_day.kind == "ai" and same_day.ref == bull.id:
                out.present = True
                return out
            what = "an insemination" if same_day.kind == "ai" else "an embryo transfer"
            p.append(Problem("insemination.duplicate", "date",
                             f"{rec}: the cow already has {what} recorded that day"))
        if e.semen_lot:
            lots = self.lots.get((cow.herd_id, bull.id, e.semen_lot), [])
            lot = next((lot for lot in lots if lot[1] > 0), None)
            if not lots:
                p.append(Problem("inventory.lot_unknown", "semen_lot", (
                    f"{rec}: no semen lot {e.semen_lot!r} of bull {bull.official_id} in the "
                    f"cow's herd")))
            elif lot is None:
                p.append(Problem("inventory.out_of_stock", "semen_lot",
                                 f"{rec}: semen lot {e.semen_lot!r} has no straw left"))
            else:
                out.lot_id = lot[0]
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "cow_id": cow.id, "bull_id": bull.id,
                   "semen_lot_id": out.lot_id, "service_date": e.service_date,
                   "service_type": e.service_type, "technician": e.technician}
        return out

    def check_diagnosis(self, e: DiagnosisEntry) -> Checked:
        rec = f"pregnancy diagnosis of {e.cow} on {e.diagnosis_date}"
        out = Checked()
        p = out.problems
        cow = self.animal(e.cow, role="cow", sex="F", record=rec, on=e.diagnosis_date,
                          column="animal", problems=p)
        self._date(e.diagnosis_date, rec, "date", p)
        self._choice(e.method, DIAGNOSIS_METHODS, "method", rec, "method", p)
        self._choice(e.result, DIAGNOSIS_RESULTS, "result", rec, "result", p)
        if e.days_pregnant is not None and (e.result != "pregnant"
                                            or not 0 <= e.days_pregnant <= 300):
            p.append(Problem("pregnancy.days", "days_pregnant", (
                f"{rec}: days pregnant {e.days_pregnant} needs result 'pregnant' and 0-300 days")))
        if cow is None or cow.id is None:
            return out
        stored = self.diagnoses.get((cow.id, e.diagnosis_date))
        if stored is not None:
            if stored == (e.method, e.result, e.days_pregnant):
                out.present = True
                return out
            p.append(Problem("diagnosis.duplicate", "date",
                             f"{rec}: another diagnosis of the cow is recorded that day"))
        if not any(s.day < e.diagnosis_date for s in self.services.get(cow.id, ())):
            p.append(Problem("pregnancy.before_service", "date", (
                f"{rec}: the cow has no insemination or embryo transfer before this date")))
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "cow_id": cow.id,
                   "diagnosis_date": e.diagnosis_date, "method": e.method, "result": e.result,
                   "days_pregnant": e.days_pregnant, "technician": e.technician}
        return out

    def check_calving(self, e: CalvingEntry) -> Checked:
        rec = f"calving of {e.dam} on {e.calving_date}"
        out = Checked()
        p = out.problems
        dam = self.animal(e.dam, role="dam", sex="F", record=rec, on=e.calving_date,
                          column="animal", problems=p)
        self._date(e.calving_date, rec, "date", p)
        self._choice(e.ease, (1, 2, 3, 4, 5), "calving_ease", rec, "ease", p)
        self._choice(e.calf_sex, ("M", "F"), "calf_sex", rec, "calf_sex", p)
        self._choice(e.calf_number, (1, 2, 3, 4), "calf_number", rec, "calf_number", p)
        if not e.stillborn and not e.calf:
            p.append(Problem("calving.calf_missing", "calf",
                             f"{rec}: a live calf needs its new official ID"))
        if dam is None or dam.id is None:
            return out
        key = (dam.id, e.calving_date, e.calf_number)
        if key in self.calvings:
            if self.calvings[key] == (e.ease, e.calf_sex, e.stillborn, e.calf):
                out.present = True
                return out
            p.append(Problem("calving.duplicate", "date",
                             f"{rec}: calf number {e.calf_number} of this calving is recorded"))
        service = self.conceiving_service(dam.id, e.calving_date)
        if service is None:
            before = [s.day for s in self.services.get(dam.id, ()) if s.day < e.calving_date]
            latest = (f" (latest service {before[-1]}, {(e.calving_date - before[-1]).days} "
                      "days before)") if before else " (none recorded)"
            p.append(Problem("calving.before_conception", "date", (
                f"{rec}: no insemination or embryo transfer {GESTATION_MIN_DAYS}-"
                f"{GESTATION_MAX_DAYS} days before{latest}")))
            return out
        sire_name = self.names.get(service.sire_id) if service.sire_id else None
        dam_name = self.names.get(service.dam_id) if service.dam_id else None
        if e.sire and e.sire != sire_name:
            p.append(Problem("calving.pedigree_mismatch", "sire", (
                f"{rec}: sire {e.sire} disagrees with the conceiving service on {service.day} "
                f"(sire {sire_name or 'unknown'})")))
        calf_id = None
        if e.calf:
            calf_id = self._check_calf(e, rec, dam, service, sire_name, dam_name, out)
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "dam_id": dam.id,
                   "calving_date": e.calving_date, "calf_number": e.calf_number, "ease": e.ease,
                   "calf_sex": e.calf_sex, "stillborn": e.stillborn, "calf_id": calf_id}
        return out

    def _check_calf(self, e: CalvingEntry, rec: str, dam: BookAnimal, service: Service,
                    sire_name: str | None, dam_name: str | None, out: Checked) -> int | None:
        """The calf: an animal already registered (its record must agree) or a new one."""
        p = out.problems
        if e.calf in self.calves:
            p.append(Problem("calving.calf_taken", "calf",
                             f"{rec}: calf {e.calf} is already the calf of another calving"))
            return None
        calf = self.animals.get(e.calf)
        if calf is None:
            out.new_calf = AnimalRecord(
                official_id=e.calf, breed=dam.breed, sex=e.calf_sex, birth_date=e.calving_date,
                herd_code=self.herds.get(dam.herd_id) if dam.herd_id else None,
                sire=sire_name, dam=dam_name)
            return None
        if not calf.own:
            p.append(Problem("repro.animal_unknown", "calf",
                             f"{rec}: calf {e.calf} is not an animal of this customer"))
            return None
        if calf.birth_date != e.calving_date or calf.sex != e.calf_sex:
            p.append(Problem("calving.calf_record", "calf", (
                f"{rec}: calf {e.calf} is registered as {calf.sex} born {calf.birth_date}")))
        if calf.sire_id != service.sire_id or calf.dam_id != service.dam_id:
            p.append(Problem("calving.pedigree_mismatch", "calf", (
                f"{rec}: calf {e.calf} is registered with sire "
                f"{self.names.get(calf.sire_id, 'unknown')} and dam "
                f"{self.names.get(calf.dam_id, 'unknown')}, but the conceiving service on "
                f"{service.day} gives sire {sire_name or 'unknown'} and dam "
                f"{dam_name or 'unknown'}")))
        return calf.id

    def check_transfer(self, e: TransferEntry) -> Checked:
        rec = f"embryo transfer to {e.recipient} on {e.transfer_date}"
        out = Checked()
        p = out.problems
        cow = self.animal(e.recipient, role="recipient", sex="F", record=rec,
                          on=e.transfer_date, column="animal", problems=p)
        self._date(e.transfer_date, rec, "date", p)
        self._choice(e.preservation, PRESERVATIONS, "preservation", rec, "preservation", p)
        embryo = self.embryos.get(e.embryo)
        if embryo is None:
            p.append(Problem("embryo.unknown", "embryo",
                             f"{rec}: embryo {e.embryo!r} is not in this customer's inventory"))
        if cow is None or embryo is None or cow.id is None:
            return out
        same_day = self.service_on(cow.id, e.transfer_date)
        if same_day is not None:
            if same_day.kind == "et" and same_day.ref == embryo.id:
                out.present = True
                return out
            p.append(Problem("transfer.duplicate", "date",
                             f"{rec}: the recipient already has a service recorded that day"))
        if embryo.status != "in_stock":
            p.append(Problem("embryo.not_in_stock", "embryo",
                             f"{rec}: embryo {embryo.code} is {embryo.status.replace('_', ' ')}"))
        if embryo.produced_on > e.transfer_date:
            p.append(Problem("transfer.before_embryo", "date", (
                f"{rec}: embryo {embryo.code} was produced {embryo.produced_on}, after the "
                "transfer")))
        elif e.preservation == "fresh" and (
                embryo.preservation == "frozen"
                or (e.transfer_date - embryo.produced_on).days > FRESH_EMBRYO_MAX_DAYS):
            p.append(Problem("transfer.fresh", "preservation", (
                f"{rec}: embryo {embryo.code} ({embryo.preservation}, produced "
                f"{embryo.produced_on}) cannot be transferred fresh")))
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "recipient_id": cow.id,
                   "embryo_id": embryo.id, "transfer_date": e.transfer_date,
                   "preservation": e.preservation, "technician": e.technician}
        return out

    def check_production(self, e: FlushEntry | IvfEntry) -> Checked:
        """An embryo flush or OPU/IVF session with its graded embryos."""
        flush = isinstance(e, FlushEntry)
        day = e.flush_date if flush else e.opu_date
        kind = "embryo_flushes" if flush else "ivf_sessions"
        rec = f"{'embryo flush' if flush else 'OPU/IVF session'} of {e.donor} on {day}"
        out = Checked()
        p = out.problems
        donor = self.animal(e.donor, role="donor", sex="F", record=rec, on=day, column="donor",
                            problems=p)
        sire = self.animal(e.sire, role="sire", sex="M", record=rec, on=day, column="sire",
                           problems=p, own=False)
        self._date(day, rec, "date", p)
        self._choice(e.preservation, PRESERVATIONS, "preservation", rec, "preservation", p)
        for i, g in enumerate(e.embryos, 1):
            if g.stage not in range(1, 10) or g.quality not in range(1, 5):
                p.append(Problem("embryo.grade", "embryos", (
                    f"{rec}: embryo {i} has stage {g.stage} and quality {g.quality}; IETS "
                    "stages are 1-9 and qualities 1-4")))
        if not flush:
            if not 0 <= e.oocytes_cleaved <= e.oocytes_collected or not (
                    0 <= e.blastocysts <= e.oocytes_cleaved):
                p.append(Problem("ivf.counts", "oocytes", (
                    f"{rec}: needs blastocysts ({e.blastocysts}) <= cleaved "
                    f"({e.oocytes_cleaved}) <= oocytes collected ({e.oocytes_collected})")))
            if len(e.embryos) > e.blastocysts:
                p.append(Problem("ivf.embryos", "embryos",
                                 f"{rec}: {len(e.embryos)} embryos graded from "
                                 f"{e.blastocysts} blastocysts"))
        if donor is None or sire is None:
            return out
        if donor.herd_id is None:
            p.append(Problem("repro.herd_unknown", "donor",
                             f"{rec}: donor {donor.official_id} has no herd to keep embryos in"))
        stored = self.productions.get((kind, donor.id, day))
        if stored is not None:
            if stored == sire.id:
                out.present = True
                return out
            p.append(Problem(f"{'flush' if flush else 'ivf'}.duplicate", "date",
                             f"{rec}: the donor already has one recorded that day"))
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "donor_id": donor.id, "sire_id": sire.id,
                   ("flush_date" if flush else "opu_date"): day, "technician": e.technician}
        if not flush:
            out.row |= {"oocytes_collected": e.oocytes_collected,
                        "oocytes_cleaved": e.oocytes_cleaved, "blastocysts": e.blastocysts}
        return out

    def check_receipt(self, e: SemenReceipt) -> Checked:
        rec = f"semen receipt of lot {e.lot_code} on {e.received_on}"
        out = Checked()
        p = out.problems
        bull = self.animal(e.bull, role="bull", sex="M", record=rec, on=e.received_on,
                           column="bull", problems=p, own=False)
        self._date(e.received_on, rec, "date", p)
        if e.herd not in self.herd_ids:
            p.append(Problem("repro.herd_unknown", "herd",
                             f"{rec}: herd {e.herd!r} is not a herd of {self.customer_code}"))
        if e.straws <= 0:
            p.append(Problem("inventory.straws", "straws",
                             f"{rec}: {e.straws} straws; a receipt brings at least one"))
        if not e.lot_code or not e.tank or not e.canister:
            p.append(Problem("inventory.location", "tank",
                             f"{rec}: lot code, tank and canister are needed"))
        if bull is not None and not p:
            out.row = {"customer_id": self.customer_id, "herd_id": self.herd_ids[e.herd],
                       "bull_id": bull.id, "lot_code": e.lot_code, "tank": e.tank,
                       "canister": e.canister}
        return out

    def check_embryo_receipt(self, e: EmbryoReceipt) -> Checked:
        rec = f"receipt of embryo {e.code} on {e.received_on}"
        out = Checked()
        p = out.problems
        sire = self.animal(e.sire, role="sire", sex="M", record=rec, on=e.produced_on,
                           column="sire", problems=p, own=False)
        donor = None if e.donor is None else self.animal(
            e.donor, role="donor", sex="F", record=rec, on=e.produced_on, column="donor",
            problems=p, own=False)
        self._date(e.received_on, rec, "date", p)
        self._choice(e.preservation, PRESERVATIONS, "preservation", rec, "preservation", p)
        if e.herd not in self.herd_ids:
            p.append(Problem("repro.herd_unknown", "herd",
                             f"{rec}: herd {e.herd!r} is not a herd of {self.customer_code}"))
        if e.stage not in range(1, 10) or e.quality not in range(1, 5):
            p.append(Problem("embryo.grade", "stage", f"{rec}: stage {e.stage} and quality "
                             f"{e.quality}; IETS stages are 1-9 and qualities 1-4"))
        if e.produced_on > e.received_on:
            p.append(Problem("embryo.received_before_produced", "date",
                             f"{rec}: produced {e.produced_on}, after its receipt"))
        if e.code in self.embryos:
            p.append(Problem("embryo.duplicate", "code",
                             f"{rec}: code {e.code} is already in the inventory"))
        if sire is not None and not p:
            out.row = {"customer_id": self.customer_id, "herd_id": self.herd_ids[e.herd],
                       "code": e.code, "donor_id": donor.id if donor else None,
                       "sire_id": sire.id, "produced_on": e.produced_on, "stage": e.stage,
                       "quality": e.quality, "preservation": e.preservation,
                       "status": "in_stock", "tank": e.tank, "canister": e.canister}
        return out

    def _note(self, cow_id: int, day: date, what: str) -> None:
        if cow_id not in self.latest or day > self.latest[cow_id][0]:
            self.latest[cow_id] = (day, what)

    def latest_event(self, a: BookAnimal) -> tuple[date, str] | None:
        """The animal's latest recorded event as (day, what), for the exit rule."""
        if a.id is None:
            return None
        found = [self.latest[a.id]] if a.id in self.latest else []
        services = self.services.get(a.id)
        if services:
            last = services[-1]
            found.append((last.day, "insemination" if last.kind == "ai" else "embryo transfer"))
        return max(found, default=None)

    def check_exit(self, e: ExitEntry) -> Checked:
        rec = f"exit of {e.animal} on {e.exit_date}"
        out = Checked()
        p = out.problems
        a = self.animals.get(e.animal)
        if a is None or not a.own:
            p.append(Problem("repro.animal_unknown", "animal",
                             f"{rec}: {e.animal!r} is not an animal of this customer"))
            return out
        self._date(e.exit_date, rec, "date", p)
        self._choice(e.reason, EXIT_REASONS, "exit_reason", rec, "reason", p)
        if a.birth_date is not None and e.exit_date < a.birth_date:
            p.append(Problem("repro.before_birth", "date",
                             f"{rec}: the animal was born {a.birth_date}, after this date"))
        stored = self.exits.get(e.animal)
        if stored is not None:
            if stored == (e.exit_date, e.reason, e.cause):
                out.present = True
                return out
            p.append(Problem("exit.duplicate", "date",
                             f"{rec}: the animal already left the herd on {stored[0]} "
                             f"({stored[1]})"))
        latest = self.latest_event(a)
        if latest is not None and latest[0] > e.exit_date:
            p.append(Problem("exit.events_after", "date",
                             f"{rec}: the animal has a {latest[1]} recorded on {latest[0]}, "
                             "after it left"))
        if p:
            return out
        out.row = {"customer_id": self.customer_id, "animal": a.official_id, "animal_id": a.id,
                   "exit_date": e.exit_date, "reason": e.reason, "cause": e.cause}
        return out

    # -- applying accepted records -----------------------------------------------------------
    def apply(self, entry: object, checked: Checked) -> None:
        """Add an accepted record to the book (the next entries are judged with it)."""
        if checked.present or checked.row is None:
            return
        row = checked.row
        if isinstance(entry, InseminationEntry):
            self.services[row["cow_id"]].append(Service(
                row["service_date"], "ai", row["bull_id"], row["bull_id"], row["cow_id"]))
            self.services[row["cow_id"]].sort(key=lambda s: s.day)
            if checked.lot_id is not None:
                for lots in self.lots.values():
                    for lot in lots:
                        if lot[0] == checked.lot_id:
                            lot[1] -= 1
        elif isinstance(entry, DiagnosisEntry):
            self._note(row["cow_id"], row["diagnosis_date"], "pregnancy diagnosis")
            self.diagnoses[(row["cow_id"], row["diagnosis_date"])] = (
                row["method"], row["result"], row["days_pregnant"])
        elif isinstance(entry, CalvingEntry):
            self._note(row["dam_id"], row["calving_date"], "calving")
            self.calvings[(row["dam_id"], row["calving_date"], row["calf_number"])] = (
                row["ease"], row["calf_sex"], row["stillborn"], entry.calf)
            if entry.calf:
                self.calves.add(entry.calf)
            if checked.new_calf is not None:
                c = checked.new_calf
                self.animals[c.official_id] = BookAnimal(
                    None, c.official_id, c.sex, c.birth_date, self.herd_ids.get(c.herd_code or ""),
                    c.breed, None, None, True)
        elif isinstance(entry, TransferEntry):
            embryo = self.embryos[entry.embryo]
            embryo.status = "transferred"
            self.services[row["recipient_id"]].append(Service(
                row["transfer_date"], "et", embryo.id, embryo.sire_id, embryo.donor_id))
            self.services[row["recipient_id"]].sort(key=lambda s: s.day)
        elif isinstance(entry, FlushEntry | IvfEntry):
            kind = "embryo_flushes" if isinstance(entry, FlushEntry) else "ivf_sessions"
            day = row.get("flush_date") or row.get("opu_date")
            self.productions[(kind, row["donor_id"], day)] = row["sire_id"]
            self._note(row["donor_id"], day, _PRODUCTION[kind])
        elif isinstance(entry, ExitEntry):
            self.exits[entry.animal] = (entry.exit_date, entry.reason, entry.cause)
            self.animals[entry.animal].exit = (entry.exit_date, entry.reason)
