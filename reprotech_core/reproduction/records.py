"""What a technician or vet enters, as plain values: one small dataclass per record type.

Animals are named by official ID (a bull or sire may be in the reference catalogue), embryos by
their straw code, semen by lot code. The same dataclasses serve the forms, the bulk import and
the demo, so every path goes through the same rules (:mod:`reprotech_core.reproduction.book`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# The refusal shape is shared with every text field's judge (reprotech_core.textfields), so a
# refused ID or note reads like any other broken herd-book rule.
from reprotech_core.textfields import Problem as Problem
from reprotech_core.textfields import RecordRefused as RecordRefused

# IETS embryo grading (Stringfellow & Givens, IETS Manual, 4th ed. 2010): stage 1 unfertilized
# oocyte … 9 expanding hatched blastocyst; quality 1 excellent/good … 4 dead or degenerating.
# Transferable: a morula or later (stage 4-9) of quality 1-3.
TRANSFERABLE_STAGES = range(4, 10)
TRANSFERABLE_QUALITIES = range(1, 4)


@dataclass(frozen=True)
class InseminationEntry:
    cow: str
    bull: str
    service_date: date
    service_type: str = "heat"  # heat (observed oestrus) or timed (synchronised, TAI)
    technician: str | None = None
    semen_lot: str | None = None  # lot code of a straw taken from the cow's herd's stock


@dataclass(frozen=True)
class HeatEntry:
    """A heat (oestrus) seen in a cow, whether or not she was served; ``technician`` is who
    saw it."""

    cow: str
    heat_date: date
    technician: str | None = None


@dataclass(frozen=True)
class DiagnosisEntry:
    cow: str
    diagnosis_date: date
    method: str  # palpation, ultrasound, blood, milk
    result: str  # pregnant or open
    days_pregnant: int | None = None
    technician: str | None = None


@dataclass(frozen=True)
class CalvingEntry:
    """A calving; ``calf`` is the live calf's new official ID (registered with its parents)."""

    dam: str
    calving_date: date
    ease: int  # 1 unassisted … 5 caesarean
    calf_sex: str
    calf: str | None = None
    calf_number: int = 1
    stillborn: bool = False
    sire: str | None = None  # optional: must agree with the conceiving service's sire


@dataclass(frozen=True)
class ExitEntry:
    """An animal left the herd: ``reason`` sold, slaughter or died; ``cause`` is free text
    (infertility, mastitis, lameness, age, …)."""

    animal: str
    exit_date: date
    reason: str
    cause: str | None = None


@dataclass(frozen=True)
class TransferEntry:
    recipient: str
    embryo: str
    transfer_date: date
    preservation: str  # fresh or frozen
    technician: str | None = None


@dataclass(frozen=True)
class EmbryoGrade:
    stage: int
    quality: int

    @property
    def transferable(self) -> bool:
        return self.stage in TRANSFERABLE_STAGES and self.quality in TRANSFERABLE_QUALITIES


@dataclass(frozen=True)
class FlushEntry:
    donor: str
    sire: str
    flush_date: date
    embryos: list[EmbryoGrade] = field(default_factory=list)
    preservation: str = "frozen"
    tank: str | None = None
    canister: str | None = None
    technician: str | None = None


@dataclass(frozen=True)
class IvfEntry:
    donor: str
    sire: str
    opu_date: date
    oocytes_collected: int
    oocytes_cleaved: int
    blastocysts: int
    embryos: list[EmbryoGrade] = field(default_factory=list)  # the graded blastocysts kept
    preservation: str = "frozen"
    tank: str | None = None
    canister: str | None = None
    technician: str | None = None


@dataclass(frozen=True)
class EmbryoReceipt:
    """An embryo bought in (from another breeder or an embryo bank) into a herd's tank."""

    herd: str
    code: str
    sire: str
    stage: int
    quality: int
    produced_on: date
    received_on: date
    preservation: str = "frozen"
    donor: str | None = None  # the donor, if she is known here (own or reference catalogue)
    tank: str | None = None
    canister: str | None = None
    supplier: str | None = None


@dataclass(frozen=True)
class SemenReceipt:
    """Straws of a bull's lot received into a herd's tank and canister.

    ``reference`` is the delivery note (dispatch) number, e.g. ``DN-2024-0117``; recommended:
    with it a receipt entered again is recognised (nothing written), and the same reference
    with other values is refused (``inventory.receipt_duplicate``). Without it every entry
    counts, so a receipt entered twice tops the lot up twice. One reference names one receipt
    (one lot): a delivery note listing several lots gets one reference per line
    (``DN-2024-0117/2``).
    """

    herd: str
    bull: str
    lot_code: str
    tank: str
    canister: str
    straws: int
    received_on: date
    supplier: str | None = None
    reference: str | None = None


_DAY_FIELDS = ("heat_date", "service_date", "transfer_date", "diagnosis_date", "calving_date", "exit_date",
               "flush_date", "opu_date")
_ANIMAL_FIELDS = ("cow", "recipient", "dam", "donor", "animal")


def day_of(entry: object) -> date:
    """The date an entry is recorded on, whatever its type."""
    return next(getattr(entry, f) for f in _DAY_FIELDS if hasattr(entry, f))


def animal_of(entry: object) -> str:
    """The animal of the herd an entry is about (cow, recipient, dam, donor or animal)."""
    return next(getattr(entry, f) for f in _ANIMAL_FIELDS if hasattr(entry, f))
