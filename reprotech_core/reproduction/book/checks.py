"""The verdict on one entry, and the checks every rule family shares.

Each ``check_*`` of the herd book judges one entry and returns every broken rule
(:class:`Problem`, naming record and rule) in a :class:`Checked`, plus the row to write; the
same fault reads the same in every record, and every message names its record first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from reprotech_core.animals import AnimalRecord
from reprotech_core.reproduction.book.load import BookAnimal, BookRecords
from reprotech_core.reproduction.records import Problem

# Roles an animal plays in its own herd's events; a bull's semen outlives him.
HERD_ROLES = ("cow", "dam", "donor", "recipient")


@dataclass
class Checked:
    """The verdict on one entry: problems, else the row to write (``present``: already stored
    identically, nothing to write). ``record`` names the entry in its problems' messages."""

    problems: list[Problem] = field(default_factory=list)
    row: dict | None = None
    present: bool = False
    new_calf: AnimalRecord | None = None
    lot_id: int | None = None
    record: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def refuse(self, rule: str, column: str, why: str) -> None:
        """Add a broken rule; a report of a whole file is read by the record named first."""
        self.problems.append(Problem(rule, column, f"{self.record}: {why}"))


def stored_already(out: Checked, stored: object, entry: object, rule: str, why: str) -> bool:
    """Whether the entry is stored already, identically (``out.present``): entering a record
    again, or importing a file again, is harmless. A different record in its place (``stored``
    not None) is the duplicate ``rule``, against the date: one record per animal and day."""
    if stored is None:
        return False
    if stored == entry:
        out.present = True
        return True
    out.refuse(rule, "date", why)
    return False


def one_of(out: Checked, value: object, allowed: tuple, what: str, column: str) -> None:
    """A value from its list (service types, methods, results, ...); ``what`` names the rule."""
    if value not in allowed:
        out.refuse(f"repro.{what}", column, f"{what.replace('_', ' ')} {value!r} is not one of "
                   f"{', '.join(map(str, allowed))}")


class Rules(BookRecords):
    """The checks of animals, dates and herds that every family shares."""

    def animal(self, out: Checked, name: str | None, *, role: str, sex: str, on: date,
               column: str, own: bool = True) -> BookAnimal | None:
        """The named animal if it is usable in this role, else ``None`` with the reason added."""
        a = self.animals.get(name or "")
        if a is None or (own and not a.own):
            where = "this customer" if own else "this customer or of the reference catalogue"
            out.refuse("repro.animal_unknown", column,
                       f"{role} {name!r} is not an animal of {where}")
            return None
        if a.sex != sex:
            out.refuse(f"repro.{role}_sex", column, (
                f"{role} {a.official_id} is {'male' if a.sex == 'M' else 'female'}; "
                f"a {role} must be {'male' if sex == 'M' else 'female'}"))
        if a.birth_date is not None and on < a.birth_date:
            out.refuse("repro.before_birth", column,
                       f"{role} {a.official_id} was born {a.birth_date}, after this date")
        if a.id is None and role in HERD_ROLES:
            out.refuse("repro.animal_pending", column, (
                f"{role} {a.official_id} is registered by a calving in the same batch; record "
                "her own events once that calving is stored"))
        if a.own and role in HERD_ROLES and a.exit is not None and on > a.exit[0]:
            out.refuse("repro.after_exit", column,
                       f"{role} {a.official_id} left the herd on {a.exit[0]} ({a.exit[1]})")
        return a

    def not_future(self, out: Checked, day: date) -> None:
        """No record of what has not happened yet (``today`` is the book's, for tests)."""
        if day > self.today:
            out.refuse("repro.future_date", "date", f"{day} is in the future")

    def receiving_herd(self, out: Checked, herd: str) -> int | None:
        """The id of the customer's herd that receives stock, else ``None`` with the reason."""
        if herd not in self.herd_ids:
            out.refuse("repro.herd_unknown", "herd",
                       f"herd {herd!r} is not a herd of {self.customer_code}")
        return self.herd_ids.get(herd)
