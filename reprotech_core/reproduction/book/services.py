"""Services and pregnancy diagnoses: inseminations and embryo transfers (one service per cow
and day) and the diagnoses that follow them."""

from __future__ import annotations

from datetime import date

from data_models.reproduction import (
    DIAGNOSIS_METHODS,
    DIAGNOSIS_RESULTS,
    PRESERVATIONS,
    SERVICE_TYPES,
)
from reprotech_core.reproduction.book.checks import Checked, Rules, one_of, stored_already
from reprotech_core.reproduction.book.load import Service
from reprotech_core.reproduction.records import (
    DiagnosisEntry,
    HeatEntry,
    InseminationEntry,
    TransferEntry,
)

FRESH_EMBRYO_MAX_DAYS = 1  # a fresh embryo is transferred the day it is produced, or the next

_A_SERVICE = {"ai": "an insemination", "et": "an embryo transfer"}


class ServiceRules(Rules):
    def service_on(self, cow_id: int, day: date) -> Service | None:
        return next((s for s in self.services.get(cow_id, ()) if s.day == day), None)

    def check_heat(self, e: HeatEntry) -> Checked:
        """A heat seen: a female of the customer, alive in the herd that day, not in the
        future; one per cow and day (seen again: already recorded, nothing changes)."""
        out = Checked(record=f"heat of {e.cow} on {e.heat_date}")
        cow = self.animal(out, e.cow, role="cow", sex="F", on=e.heat_date, column="animal")
        self.not_future(out, e.heat_date)
        if cow is None or out.problems:
            return out
        if cow.id is not None and (cow.id, e.heat_date) in self.heats:
            out.present = True
            return out
        out.row = {"customer_id": self.customer_id, "cow_id": cow.id, "heat_date": e.heat_date,
                   "technician": e.technician}
        return out

    def add_heat(self, row: dict) -> None:
        self.heats.add((row["cow_id"], row["heat_date"]))
        self.note(row["cow_id"], row["heat_date"], "heat")

    def check_insemination(self, e: InseminationEntry) -> Checked:
        out = Checked(record=f"insemination of {e.cow} on {e.service_date}")
        cow = self.animal(out, e.cow, role="cow", sex="F", on=e.service_date, column="animal")
        bull = self.animal(out, e.bull, role="bull", sex="M", on=e.service_date, column="bull",
                           own=False)
        self.not_future(out, e.service_date)
        one_of(out, e.service_type, SERVICE_TYPES, "service_type", "service_type")
        if cow is None or bull is None:
            return out
        same_day = self.service_on(cow.id, e.service_date) if cow.id else None
        if same_day is not None and stored_already(
                out, (same_day.kind, same_day.ref), ("ai", bull.id), "insemination.duplicate",
                f"the cow already has {_A_SERVICE[same_day.kind]} recorded that day"):
            return out
        if e.semen_lot:
            lots = self.lots.get((cow.herd_id, bull.id, e.semen_lot), [])
            lot = next((lot for lot in lots if lot[1] > 0), None)
            if not lots:
                out.refuse("inventory.lot_unknown", "semen_lot", (
                    f"no semen lot {e.semen_lot!r} of bull {bull.official_id} in the cow's herd"))
            elif lot is None:
                out.refuse("inventory.out_of_stock", "semen_lot",
                           f"semen lot {e.semen_lot!r} has no straw left")
            else:
                out.lot_id = lot[0]
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "cow_id": cow.id, "bull_id": bull.id,
                   "semen_lot_id": out.lot_id, "service_date": e.service_date,
                   "service_type": e.service_type, "technician": e.technician}
        return out

    def check_transfer(self, e: TransferEntry) -> Checked:
        out = Checked(record=f"embryo transfer to {e.recipient} on {e.transfer_date}")
        cow = self.animal(out, e.recipient, role="recipient", sex="F", on=e.transfer_date,
                          column="animal")
        self.not_future(out, e.transfer_date)
        one_of(out, e.preservation, PRESERVATIONS, "preservation", "preservation")
        embryo = self.embryos.get(e.embryo)
        if embryo is None:
            out.refuse("embryo.unknown", "embryo",
                       f"embryo {e.embryo!r} is not in this customer's inventory")
        if cow is None or embryo is None or cow.id is None:
            return out
        same_day = self.service_on(cow.id, e.transfer_date)
        if same_day is not None and stored_already(
                out, (same_day.kind, same_day.ref), ("et", embryo.id), "transfer.duplicate",
                "the recipient already has a service recorded that day"):
            return out
        if embryo.status != "in_stock":
            out.refuse("embryo.not_in_stock", "embryo",
                       f"embryo {embryo.code} is {embryo.status.replace('_', ' ')}")
        if embryo.produced_on > e.transfer_date:
            out.refuse("transfer.before_embryo", "date",
                       f"embryo {embryo.code} was produced {embryo.produced_on}, after the "
                       "transfer")
        elif e.preservation == "fresh" and (
                embryo.preservation == "frozen"
                or (e.transfer_date - embryo.produced_on).days > FRESH_EMBRYO_MAX_DAYS):
            out.refuse("transfer.fresh", "preservation", (
                f"embryo {embryo.code} ({embryo.preservation}, produced {embryo.produced_on}) "
                "cannot be transferred fresh"))
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "recipient_id": cow.id,
                   "embryo_id": embryo.id, "transfer_date": e.transfer_date,
                   "preservation": e.preservation, "technician": e.technician}
        return out

    def check_diagnosis(self, e: DiagnosisEntry) -> Checked:
        out = Checked(record=f"pregnancy diagnosis of {e.cow} on {e.diagnosis_date}")
        cow = self.animal(out, e.cow, role="cow", sex="F", on=e.diagnosis_date, column="animal")
        self.not_future(out, e.diagnosis_date)
        one_of(out, e.method, DIAGNOSIS_METHODS, "method", "method")
        one_of(out, e.result, DIAGNOSIS_RESULTS, "result", "result")
        if e.days_pregnant is not None and (e.result != "pregnant"
                                            or not 0 <= e.days_pregnant <= 300):
            out.refuse("pregnancy.days", "days_pregnant",
                       f"days pregnant {e.days_pregnant} needs result 'pregnant' and 0-300 days")
        if cow is None or cow.id is None:
            return out
        if stored_already(out, self.diagnoses.get((cow.id, e.diagnosis_date)),
                          (e.method, e.result, e.days_pregnant), "diagnosis.duplicate",
                          "another diagnosis of the cow is recorded that day"):
            return out
        if not any(s.day < e.diagnosis_date for s in self.services.get(cow.id, ())):
            out.refuse("pregnancy.before_service", "date",
                       "the cow has no insemination or embryo transfer before this date")
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "cow_id": cow.id,
                   "diagnosis_date": e.diagnosis_date, "method": e.method, "result": e.result,
                   "days_pregnant": e.days_pregnant, "technician": e.technician}
        return out

    # -- accepted records --------------------------------------------------------------------
    def add_insemination(self, checked: Checked) -> None:
        """The cow's new service, and one straw fewer in its lot."""
        row = checked.row
        self.add_service(row["cow_id"], Service(
            row["service_date"], "ai", row["bull_id"], row["bull_id"], row["cow_id"]))
        if checked.lot_id is not None:
            for lots in self.lots.values():
                for lot in lots:
                    if lot[0] == checked.lot_id:
                        lot[1] -= 1

    def add_transfer(self, e: TransferEntry, row: dict) -> None:
        """The recipient's new service, by the embryo's parents; the embryo leaves the stock."""
        embryo = self.embryos[e.embryo]
        embryo.status = "transferred"
        self.add_service(row["recipient_id"], Service(
            row["transfer_date"], "et", embryo.id, embryo.sire_id, embryo.donor_id))

    def add_diagnosis(self, row: dict) -> None:
        self.note(row["cow_id"], row["diagnosis_date"], "pregnancy diagnosis")
        self.diagnoses[(row["cow_id"], row["diagnosis_date"])] = (
            row["method"], row["result"], row["days_pregnant"])
