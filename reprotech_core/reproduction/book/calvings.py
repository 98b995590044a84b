"""Calvings: the service that conceived the calf, and the calf's record and pedigree."""

from __future__ import annotations

from datetime import date

from reprotech_core.animals import AnimalRecord
from reprotech_core.reproduction.book.checks import Checked, Rules, one_of, stored_already
from reprotech_core.reproduction.book.load import BookAnimal, Service
from reprotech_core.reproduction.records import CalvingEntry

# Gestation in cattle is 279-290 days; a calf born 240-310 days after a service was conceived by
# it (earlier is an abortion, a pregnancy loss; later is not this service's calf).
GESTATION_MIN_DAYS = 240
GESTATION_MAX_DAYS = 310


class CalvingRules(Rules):
    def conceiving_service(self, cow_id: int, calving: date) -> Service | None:
        """The latest service 240-310 days before a calving: the one that conceived the calf."""
        window = [s for s in self.services.get(cow_id, ())
                  if GESTATION_MIN_DAYS <= (calving - s.day).days <= GESTATION_MAX_DAYS]
        return window[-1] if window else None

    def check_calving(self, e: CalvingEntry) -> Checked:
        out = Checked(record=f"calving of {e.dam} on {e.calving_date}")
        dam = self.animal(out, e.dam, role="dam", sex="F", on=e.calving_date, column="animal")
        self.not_future(out, e.calving_date)
        one_of(out, e.ease, (1, 2, 3, 4, 5), "calving_ease", "ease")
        one_of(out, e.calf_sex, ("M", "F"), "calf_sex", "calf_sex")
        one_of(out, e.calf_number, (1, 2, 3, 4), "calf_number", "calf_number")
        if not e.stillborn and not e.calf:
            out.refuse("calving.calf_missing", "calf", "a live calf needs its new official ID")
        if dam is None or dam.id is None:
            return out
        if stored_already(out, self.calvings.get((dam.id, e.calving_date, e.calf_number)),
                          (e.ease, e.calf_sex, e.stillborn, e.calf), "calving.duplicate",
                          f"calf number {e.calf_number} of this calving is recorded"):
            return out
        service = self.conceiving_service(dam.id, e.calving_date)
        if service is None:
            before = [s.day for s in self.services.get(dam.id, ()) if s.day < e.calving_date]
            latest = (f" (latest service {before[-1]}, {(e.calving_date - before[-1]).days} "
                      "days before)") if before else " (none recorded)"
            out.refuse("calving.before_conception", "date", (
                f"no insemination or embryo transfer {GESTATION_MIN_DAYS}-"
                f"{GESTATION_MAX_DAYS} days before{latest}"))
            return out
        sire_name = self.names.get(service.sire_id) if service.sire_id else None
        dam_name = self.names.get(service.dam_id) if service.dam_id else None
        if e.sire and e.sire != sire_name:
            out.refuse("calving.pedigree_mismatch", "sire", (
                f"sire {e.sire} disagrees with the conceiving service on {service.day} "
                f"(sire {sire_name or 'unknown'})"))
        calf_id = None
        if e.calf:
            calf_id = self._check_calf(e, dam, service, sire_name, dam_name, out)
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "dam_id": dam.id,
                   "calving_date": e.calving_date, "calf_number": e.calf_number, "ease": e.ease,
                   "calf_sex": e.calf_sex, "stillborn": e.stillborn, "calf_id": calf_id}
        return out

    def _check_calf(self, e: CalvingEntry, dam: BookAnimal, service: Service,
                    sire_name: str | None, dam_name: str | None, out: Checked) -> int | None:
        """The calf: an animal already registered (its record must agree) or a new one."""
        if e.calf in self.calves:
            out.refuse("calving.calf_taken", "calf",
                       f"calf {e.calf} is already the calf of another calving")
            return None
        calf = self.animals.get(e.calf)
        if calf is None:
            out.new_calf = AnimalRecord(
                official_id=e.calf, breed=dam.breed, sex=e.calf_sex, birth_date=e.calving_date,
                herd_code=self.herds.get(dam.herd_id) if dam.herd_id else None,
                sire=sire_name, dam=dam_name)
            return None
        if not calf.own:
            out.refuse("repro.animal_unknown", "calf",
                       f"calf {e.calf} is not an animal of this customer")
            return None
        if calf.birth_date != e.calving_date or calf.sex != e.calf_sex:
            out.refuse("calving.calf_record", "calf",
                       f"calf {e.calf} is registered as {calf.sex} born {calf.birth_date}")
        if calf.sire_id != service.sire_id or calf.dam_id != service.dam_id:
            out.refuse("calving.pedigree_mismatch", "calf", (
                f"calf {e.calf} is registered with sire "
                f"{self.names.get(calf.sire_id, 'unknown')} and dam "
                f"{self.names.get(calf.dam_id, 'unknown')}, but the conceiving service on "
                f"{service.day} gives sire {sire_name or 'unknown'} and dam "
                f"{dam_name or 'unknown'}"))
        return calf.id

    def add_calving(self, e: CalvingEntry, checked: Checked) -> None:
        """The dam's calving; its calf is taken, and a new calf joins the book (with no id
        until it is written, so its own events wait for a later batch)."""
        row = checked.row
        self.note(row["dam_id"], row["calving_date"], "calving")
        self.calvings[(row["dam_id"], row["calving_date"], row["calf_number"])] = (
            row["ease"], row["calf_sex"], row["stillborn"], e.calf)
        if e.calf:
            self.calves.add(e.calf)
        if checked.new_calf is not None:
            c = checked.new_calf
            self.animals[c.official_id] = BookAnimal(
                None, c.official_id, c.sex, c.birth_date, self.herd_ids.get(c.herd_code or ""),
                c.breed, None, None, True)
