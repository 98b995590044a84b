"""Reproduction and lab records: services (AI and embryo transfer), embryo production
(flushes, OPU/IVF), pregnancy diagnoses, calvings, exits from the herd, and semen and embryo
inventory.

Every table is a tenant table (``customer_id``, forced row security, audit trigger; writes need
``reproduction:write``). Animals of the record's own customer are tied to it by composite
foreign keys; bulls, sires and embryo donors may also come from the reference catalogue, which
rule triggers check (migrations 0006 and 0013: never another farm's animal). Natural keys (one
service per cow and day, one diagnosis per cow and day, …) make re-imports idempotent. The
rules themselves are described in docs/reproduction.md.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

SERVICE_TYPES = ("heat", "timed")
DIAGNOSIS_METHODS = ("palpation", "ultrasound", "blood", "milk")
DIAGNOSIS_RESULTS = ("pregnant", "open")
PRESERVATIONS = ("fresh", "frozen")
EMBRYO_STATUSES = ("in_stock", "transferred", "discarded")
MOVEMENT_KINDS = ("receipt", "transfer_out", "transfer_in", "discard")
EXIT_REASONS = ("sold", "slaughter", "died")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _own_animal(column: str) -> ForeignKeyConstraint:
    """The animal belongs to the record's customer."""
    return ForeignKeyConstraint(
        [column, "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
    )


def _customer() -> Mapped[int]:
    return mapped_column(ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True)


def _any_animal(role: str, nullable: bool = False) -> Mapped[int]:
    """A bull, sire or donor: the customer's own or the reference catalogue's. A foreign key
    cannot say that, so a trigger does (``core.catalogue_references()``, migration 0013, lists
    the columns tagged here with their role)."""
    return mapped_column(ForeignKey(f"{CORE}.animals.id"), nullable=nullable, index=True,
                         info={"catalogue_reference": role})


class SemenLot(Base):
    """Straws of one bull's lot in one tank and canister of a herd; the stock never goes
    below zero, and each insemination that names the lot uses one straw."""

    __tablename__ = "semen_lots"
    __table_args__ = (
        UniqueConstraint("id", "customer_id"),
        UniqueConstraint("herd_id", "bull_id", "lot_code", "tank", "canister"),
        ForeignKeyConstraint(
            ["herd_id", "customer_id"], [f"{CORE}.herds.id", f"{CORE}.herds.customer_id"]
        ),
        CheckConstraint("straws_in_stock >= 0", name="stock_not_negative"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    herd_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    bull_id: Mapped[int] = _any_animal("bull")
    lot_code: Mapped[str] = mapped_column(String(64), nullable=False)
    tank: Mapped[str] = mapped_column(String(32), nullable=False)
    canister: Mapped[str] = mapped_column(String(32), nullable=False)
    straws_in_stock: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = created_at()


class Insemination(Base):
    __tablename__ = "inseminations"
    __table_args__ = (
        UniqueConstraint("cow_id", "service_date"),
        _own_animal("cow_id"),
        ForeignKeyConstraint(["semen_lot_id", "customer_id"],
                             [f"{CORE}.semen_lots.id", f"{CORE}.semen_lots.customer_id"]),
        CheckConstraint(_in("service_type", SERVICE_TYPES), name="service_type"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    cow_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    bull_id: Mapped[int] = _any_animal("bull")
    semen_lot_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    service_date: Mapped[date] = mapped_column(Date, nullable=False)
    service_type: Mapped[str] = mapped_column(String(8), nullable=False, server_default="heat")
    technician: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class EmbryoFlush(Base):
    """A donor's superovulation flush; its recovered structures are ``embryos`` rows."""

    __tablename__ = "embryo_flushes"
    __table_args__ = (
        UniqueConstraint("donor_id", "flush_date"),
        UniqueConstraint("id", "customer_id"),
        _own_animal("donor_id"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    donor_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    sire_id: Mapped[int] = _any_animal("sire")
    flush_date: Mapped[date] = mapped_column(Date, nullable=False)
    technician: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class IvfSession(Base):
    """Ovum pick-up and in-vitro production: oocytes collected, cleaved, blastocysts (day 7)."""

    __tablename__ = "ivf_sessions"
    __table_args__ = (
        UniqueConstraint("donor_id", "opu_date"),
        UniqueConstraint("id", "customer_id"),
        _own_animal("donor_id"),
        CheckConstraint("oocytes_collected >= 0", name="collected_not_negative"),
        CheckConstraint("oocytes_cleaved BETWEEN 0 AND oocytes_collected", name="cleaved_range"),
        CheckConstraint("blastocysts BETWEEN 0 AND oocytes_cleaved", name="blastocysts_range"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    donor_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    sire_id: Mapped[int] = _any_animal("sire")
    opu_date: Mapped[date] = mapped_column(Date, nullable=False)
    oocytes_collected: Mapped[int] = mapped_column(Integer, nullable=False)
    oocytes_cleaved: Mapped[int] = mapped_column(Integer, nullable=False)
    blastocysts: Mapped[int] = mapped_column(Integer, nullable=False)
    technician: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Embryo(Base):
    """One embryo (or recovered structure), graded by IETS stage (1 unfertilized … 9 expanded
    hatched blastocyst) and quality (1 excellent/good … 4 dead or degenerating)."""

    __tablename__ = "embryos"
    __table_args__ = (
        UniqueConstraint("customer_id", "code"),
        UniqueConstraint("id", "customer_id"),
        ForeignKeyConstraint(
            ["herd_id", "customer_id"], [f"{CORE}.herds.id", f"{CORE}.herds.customer_id"]
        ),
        ForeignKeyConstraint(["flush_id", "customer_id"],
                             [f"{CORE}.embryo_flushes.id", f"{CORE}.embryo_flushes.customer_id"]),
        ForeignKeyConstraint(["ivf_session_id", "customer_id"],
                             [f"{CORE}.ivf_sessions.id", f"{CORE}.ivf_sessions.customer_id"]),
        CheckConstraint("stage BETWEEN 1 AND 9", name="iets_stage"),
        CheckConstraint("quality BETWEEN 1 AND 4", name="iets_quality"),
        CheckConstraint("flush_id IS NULL OR ivf_session_id IS NULL", name="one_origin"),
        CheckConstraint(_in("preservation", PRESERVATIONS), name="preservation"),
        CheckConstraint(_in("status", EMBRYO_STATUSES), name="status"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    herd_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    flush_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    ivf_session_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    donor_id: Mapped[int | None] = _any_animal("donor", nullable=True)
    sire_id: Mapped[int | None] = _any_animal("sire", nullable=True)
    produced_on: Mapped[date] = mapped_column(Date, nullable=False)
    stage: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    quality: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    preservation: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, server_default="in_stock")
    tank: Mapped[str | None] = mapped_column(String(32))
    canister: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at()


class EmbryoTransfer(Base):
    """An embryo placed in a recipient; an embryo is transferred once (unique ``embryo_id``)."""

    __tablename__ = "embryo_transfers"
    __table_args__ = (
        UniqueConstraint("embryo_id"),
        UniqueConstraint("recipient_id", "transfer_date"),
        _own_animal("recipient_id"),
        ForeignKeyConstraint(["embryo_id", "customer_id"],
                             [f"{CORE}.embryos.id", f"{CORE}.embryos.customer_id"]),
        CheckConstraint(_in("preservation", PRESERVATIONS), name="preservation"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    recipient_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    embryo_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transfer_date: Mapped[date] = mapped_column(Date, nullable=False)
    preservation: Mapped[str] = mapped_column(String(8), nullable=False)
    technician: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class PregnancyDiagnosis(Base):
    __tablename__ = "pregnancy_diagnoses"
    __table_args__ = (
        UniqueConstraint("cow_id", "diagnosis_date"),
        _own_animal("cow_id"),
        CheckConstraint(_in("method", DIAGNOSIS_METHODS), name="method"),
        CheckConstraint(_in("result", DIAGNOSIS_RESULTS), name="result"),
        CheckConstraint("days_pregnant BETWEEN 0 AND 300", name="days_range"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    cow_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    diagnosis_date: Mapped[date] = mapped_column(Date, nullable=False)
    method: Mapped[str] = mapped_column(String(12), nullable=False)
    result: Mapped[str] = mapped_column(String(8), nullable=False)
    days_pregnant: Mapped[int | None] = mapped_column(SmallInteger)
    technician: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Calving(Base):
    """A calving of ``dam_id`` (the cow that calved; for an embryo-transfer calf the recipient).
    One row per calf; the live calf is registered as an animal with its genetic parents."""

    __tablename__ = "calvings"
    __table_args__ = (
        UniqueConstraint("dam_id", "calving_date", "calf_number"),
        UniqueConstraint("calf_id"),
        _own_animal("dam_id"),
        _own_animal("calf_id"),
        CheckConstraint("ease BETWEEN 1 AND 5", name="ease_range"),
        CheckConstraint("calf_sex IN ('M', 'F')", name="calf_sex"),
        CheckConstraint("calf_number BETWEEN 1 AND 4", name="calf_number_range"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    dam_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    calving_date: Mapped[date] = mapped_column(Date, nullable=False)
    calf_number: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    ease: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    calf_sex: Mapped[str] = mapped_column(String(1), nullable=False)
    stillborn: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    calf_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at()


class InventoryMovement(Base):
    """Receipts, transfers between herds and discards of straws or embryos (a use is the
    insemination or transfer itself).

    A receipt may carry the ``reference`` of its delivery note (dispatch number); it is unique
    per customer among receipts, so a receipt entered twice (a double click, a script run
    again) is recognised and never counted twice (migration 0011)."""

    __tablename__ = "inventory_movements"
    __table_args__ = (
        ForeignKeyConstraint(["semen_lot_id", "customer_id"],
                             [f"{CORE}.semen_lots.id", f"{CORE}.semen_lots.customer_id"]),
        ForeignKeyConstraint(["embryo_id", "customer_id"],
                             [f"{CORE}.embryos.id", f"{CORE}.embryos.customer_id"]),
        CheckConstraint(_in("kind", MOVEMENT_KINDS), name="kind"),
        CheckConstraint("(semen_lot_id IS NULL) <> (embryo_id IS NULL)", name="one_item"),
        CheckConstraint("straws IS NULL OR straws > 0", name="straws_positive"),
        Index("uq_inventory_movements_customer_id_reference", "customer_id", "reference",
              unique=True,
              postgresql_where=text("kind = 'receipt' AND reference IS NOT NULL")),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    semen_lot_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    embryo_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    straws: Mapped[int | None] = mapped_column(Integer)
    moved_on: Mapped[date] = mapped_column(Date, nullable=False)
    counterpart: Mapped[str | None] = mapped_column(String(128))
    reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class AnimalExit(Base):
    """An animal left the customer's herds: sold (alive, to another farm), slaughter (culled)
    or died; ``cause`` says why (infertility, mastitis, lameness, …). No reproduction event of
    the animal may be dated after it, and it ends the cow's eligible time in the 21-day
    pregnancy rate. One exit per animal: a bought-back animal is registered again."""

    __tablename__ = "animal_exits"
    __table_args__ = (
        UniqueConstraint("animal_id"),
        _own_animal("animal_id"),
        CheckConstraint(_in("reason", EXIT_REASONS), name="reason"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    exit_date: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(String(12), nullable=False)
    cause: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class HeatObservation(Base):
    """A heat (oestrus) seen in a cow, served or not: the farmer's note of when she cycles
    (migration 0028). A service at a heat is an insemination of service type ``heat``; this
    row records the heat itself, one per cow and day."""

    __tablename__ = "heat_observations"
    __table_args__ = (
        UniqueConstraint("cow_id", "heat_date"),
        _own_animal("cow_id"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    cow_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    heat_date: Mapped[date] = mapped_column(Date, nullable=False)
    technician: Mapped[str | None] = mapped_column(String(64))  # who saw it
    created_at: Mapped[datetime] = created_at()


TARGET_RANGES = {  # column: (lowest, highest) a herd may set (docs/reproduction.md, Targets)
    "vwp_days": (20, 120),
    "submission_rate_pct": (1, 100),
    "conception_rate_pct": (1, 100),
    "pregnancy_rate_pct": (1, 100),
    "days_open": (40, 250),
    "calving_interval_days": (330, 500),
    "first_calving_months": (18, 40),
}


class HerdTarget(Base):
    """A customer's voluntary waiting period and reproduction targets (one row per customer;
    no row: the defaults, a 50-day waiting period and no targets). Set by the customer admin
    or the customer's vet (``targets:write``); the ranges hold for every writer."""

    __tablename__ = "herd_targets"
    __table_args__ = (
        UniqueConstraint("customer_id"),
        *(CheckConstraint(f"{c} BETWEEN {lo} AND {hi}", name=c)
          for c, (lo, hi) in TARGET_RANGES.items()),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = _customer()
    vwp_days: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="50")
    submission_rate_pct: Mapped[int | None] = mapped_column(SmallInteger)
    conception_rate_pct: Mapped[int | None] = mapped_column(SmallInteger)
    pregnancy_rate_pct: Mapped[int | None] = mapped_column(SmallInteger)
    days_open: Mapped[int | None] = mapped_column(SmallInteger)
    calving_interval_days: Mapped[int | None] = mapped_column(SmallInteger)
    first_calving_months: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = created_at()
