"""Embryo production and embryos: flushes and OPU/IVF sessions with their graded embryos, and
embryos received from elsewhere."""

from __future__ import annotations

from datetime import date

from data_models.reproduction import PRESERVATIONS
from reprotech_core.reproduction.book.checks import Checked, Rules, one_of, stored_already
from reprotech_core.reproduction.book.load import PRODUCTIONS
from reprotech_core.reproduction.records import EmbryoReceipt, FlushEntry, IvfEntry

# IETS embryo grades (Manual of the International Embryo Technology Society).
IETS_STAGES = range(1, 10)
IETS_QUALITIES = range(1, 5)


def _session(e: FlushEntry | IvfEntry) -> tuple[str, str, date]:
    """(table, day column, day) of a flush or an OPU/IVF session."""
    if isinstance(e, FlushEntry):
        return "embryo_flushes", "flush_date", e.flush_date
    return "ivf_sessions", "opu_date", e.opu_date


def _grade(out: Checked, stage: int, quality: int, which: str, column: str) -> None:
    """An embryo's IETS stage and quality; ``which`` says which embryo of the record."""
    if stage not in IETS_STAGES or quality not in IETS_QUALITIES:
        out.refuse("embryo.grade", column, f"{which}stage {stage} and quality {quality}; IETS "
                   "stages are 1-9 and qualities 1-4")


class ProductionRules(Rules):
    def check_production(self, e: FlushEntry | IvfEntry) -> Checked:
        """An embryo flush or OPU/IVF session with its graded embryos."""
        flush = isinstance(e, FlushEntry)
        kind, day_column, day = _session(e)
        out = Checked(record=f"{PRODUCTIONS[kind]} of {e.donor} on {day}")
        donor = self.animal(out, e.donor, role="donor", sex="F", on=day, column="donor")
        sire = self.animal(out, e.sire, role="sire", sex="M", on=day, column="sire", own=False)
        self.not_future(out, day)
        one_of(out, e.preservation, PRESERVATIONS, "preservation", "preservation")
        for i, g in enumerate(e.embryos, 1):
            _grade(out, g.stage, g.quality, f"embryo {i} has ", "embryos")
        if not flush:
            if not 0 <= e.oocytes_cleaved <= e.oocytes_collected or not (
                    0 <= e.blastocysts <= e.oocytes_cleaved):
                out.refuse("ivf.counts", "oocytes", (
                    f"needs blastocysts ({e.blastocysts}) <= cleaved ({e.oocytes_cleaved}) "
                    f"<= oocytes collected ({e.oocytes_collected})"))
            if len(e.embryos) > e.blastocysts:
                out.refuse("ivf.embryos", "embryos",
                           f"{len(e.embryos)} embryos graded from {e.blastocysts} blastocysts")
        if donor is None or sire is None:
            return out
        if donor.herd_id is None:
            out.refuse("repro.herd_unknown", "donor",
                       f"donor {donor.official_id} has no herd to keep embryos in")
        if stored_already(out, self.productions.get((kind, donor.id, day)), sire.id,
                          f"{'flush' if flush else 'ivf'}.duplicate",
                          "the donor already has one recorded that day"):
            return out
        if out.problems:
            return out
        out.row = {"customer_id": self.customer_id, "donor_id": donor.id, "sire_id": sire.id,
                   day_column: day, "technician": e.technician}
        if not flush:
            out.row |= {"oocytes_collected": e.oocytes_collected,
                        "oocytes_cleaved": e.oocytes_cleaved, "blastocysts": e.blastocysts}
        return out

    def check_embryo_receipt(self, e: EmbryoReceipt) -> Checked:
        out = Checked(record=f"receipt of embryo {e.code} on {e.received_on}")
        sire = self.animal(out, e.sire, role="sire", sex="M", on=e.produced_on, column="sire",
                           own=False)
        donor = None if e.donor is None else self.animal(
            out, e.donor, role="donor", sex="F", on=e.produced_on, column="donor", own=False)
        self.not_future(out, e.received_on)
        one_of(out, e.preservation, PRESERVATIONS, "preservation", "preservation")
        herd_id = self.receiving_herd(out, e.herd)
        _grade(out, e.stage, e.quality, "", "stage")
        if e.produced_on > e.received_on:
            out.refuse("embryo.received_before_produced", "date",
                       f"produced {e.produced_on}, after its receipt")
        if e.code in self.embryos:
            out.refuse("embryo.duplicate", "code", f"code {e.code} is already in the inventory")
        if sire is not None and not out.problems:
            out.row = {"customer_id": self.customer_id, "herd_id": herd_id,
                       "code": e.code, "donor_id": donor.id if donor else None,
                       "sire_id": sire.id, "produced_on": e.produced_on, "stage": e.stage,
                       "quality": e.quality, "preservation": e.preservation,
                       "status": "in_stock", "tank": e.tank, "canister": e.canister}
        return out

    def add_production(self, e: FlushEntry | IvfEntry, row: dict) -> None:
        kind, day_column, _ = _session(e)
        self.productions[(kind, row["donor_id"], row[day_column])] = row["sire_id"]
        self.note(row["donor_id"], row[day_column], PRODUCTIONS[kind])
