"""Stock and exits: semen received into a herd's tank, and animals leaving the herd."""

from __future__ import annotations

from datetime import date

from data_models.reproduction import EXIT_REASONS
from reprotech_core.reproduction.book.checks import Checked, Rules, one_of, stored_already
from reprotech_core.reproduction.book.load import BookAnimal
from reprotech_core.reproduction.records import ExitEntry, SemenReceipt


class StockRules(Rules):
    def check_receipt(self, e: SemenReceipt) -> Checked:
        out = Checked(record=f"semen receipt of lot {e.lot_code} on {e.received_on}")
        bull = self.animal(out, e.bull, role="bull", sex="M", on=e.received_on, column="bull",
                           own=False)
        self.not_future(out, e.received_on)
        herd_id = self.receiving_herd(out, e.herd)
        if e.straws <= 0:
            out.refuse("inventory.straws", "straws",
                       f"{e.straws} straws; a receipt brings at least one")
        if not e.lot_code or not e.tank or not e.canister:
            out.refuse("inventory.location", "tank", "lot code, tank and canister are needed")
        if bull is not None and not out.problems:
            out.row = {"customer_id": self.customer_id, "herd_id": herd_id,
                       "bull_id": bull.id, "lot_code": e.lot_code, "tank": e.tank,
                       "canister": e.canister}
        return out

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
        out = Checked(record=f"exit of {e.animal} on {e.exit_date}")
        a = self.animals.get(e.animal)
        if a is None or not a.own:
            out.refuse("repro.animal_unknown", "animal",
                       f"{e.animal!r} is not an animal of this customer")
            return out
        self.not_future(out, e.exit_date)
        one_of(out, e.reason, EXIT_REASONS, "exit_reason", "reason")
        if a.birth_date is not None and e.exit_date < a.birth_date:
            out.refuse("repro.before_birth", "date",
                       f"the animal was born {a.birth_date}, after this date")
        stored = self.exits.get(e.animal)
        if stored is not None and stored_already(
                out, stored, (e.exit_date, e.reason, e.cause), "exit.duplicate",
                f"the animal already left the herd on {stored[0]} ({stored[1]})"):
            return out
        latest = self.latest_event(a)
        if latest is not None and latest[0] > e.exit_date:
            out.refuse("exit.events_after", "date",
                       f"the animal has a {latest[1]} recorded on {latest[0]}, after it left")
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "animal": a.official_id, "animal_id": a.id,
                   "exit_date": e.exit_date, "reason": e.reason, "cause": e.cause}
        return out

    def add_exit(self, e: ExitEntry) -> None:
        self.exits[e.animal] = (e.exit_date, e.reason, e.cause)
        self.animals[e.animal].exit = (e.exit_date, e.reason)
