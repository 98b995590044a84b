"""The herd book: what the reproduction rules need to know about a customer, and the rules.

A :class:`HerdBook` holds the animals, services, diagnoses, calvings, straws and embryos that a
set of records touches. Each ``check_*`` method judges one entry against it and returns every
broken rule (:class:`~reprotech_core.reproduction.records.Problem`, naming record and rule)
plus the row to write (:class:`Checked`); ``apply`` then adds the accepted record to the book,
so the next entry of a form session or an import file is judged with it. Nothing here writes:
a whole file can be judged before anything is stored.

- ``load``: the records read from the database, and the indexes kept on them
- ``checks``: the verdict (``Checked``) and the checks every family shares (animal in its
  role, dates, listed values, the receiving herd, a record stored already)
- ``services``: heats seen, inseminations, embryo transfers and pregnancy diagnoses
- ``calvings``: the conceiving service (gestation window), the calf's record and pedigree
- ``production``: flushes and OPU/IVF sessions, graded embryos, embryos received
- ``stock``: semen received, and exits from the herd

The database enforces the cheap rules again for every writer (migration 0006); the rules and
their codes are listed in docs/reproduction.md.
"""

from __future__ import annotations

from reprotech_core.reproduction.book.calvings import CalvingRules
from reprotech_core.reproduction.book.checks import Checked
from reprotech_core.reproduction.book.production import ProductionRules
from reprotech_core.reproduction.book.services import ServiceRules
from reprotech_core.reproduction.book.stock import StockRules
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    ExitEntry,
    FlushEntry,
    HeatEntry,
    InseminationEntry,
    IvfEntry,
    TransferEntry,
)

__all__ = ["Checked", "HerdBook"]


class HerdBook(ServiceRules, CalvingRules, ProductionRules, StockRules):
    """A customer's reproduction records as the rules see them (see the module docstring).

    Each rule family is a class over the same records (``load.BookRecords``) and shared checks
    (``checks.Rules``); this class joins them, so a form session or an import file judges and
    applies every kind of entry against one book."""

    def apply(self, entry: object, checked: Checked) -> None:
        """Add an accepted record to the book (the next entries are judged with it)."""
        if checked.present or checked.row is None:
            return
        match entry:
            case HeatEntry():
                self.add_heat(checked.row)
            case InseminationEntry():
                self.add_insemination(checked)
            case DiagnosisEntry():
                self.add_diagnosis(checked.row)
            case CalvingEntry():
                self.add_calving(entry, checked)
            case TransferEntry():
                self.add_transfer(entry, checked.row)
            case FlushEntry() | IvfEntry():
                self.add_production(entry, checked.row)
            case ExitEntry():
                self.add_exit(entry)
