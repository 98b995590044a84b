"""Genomic evaluation runs, per-animal results, and parentage results."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

RUN_STATUSES = ("running", "succeeded", "failed", "released")
PARENTAGE_STATUSES = ("verified", "excluded", "undetermined")
RESULT_BASES = ("genomic", "pedigree")


class Trait(Base):
    """A trait evaluated (milk_production, fertility, disease_resistance, longevity)."""

    __tablename__ = "traits"
    __table_args__ = {"schema": CORE}
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    unit: Mapped[str | None] = mapped_column(String(32))


class EvaluationRun(Base):
    """One evaluation (parameters, software versions, data snapshot, timings) over all tenants."""

    __tablename__ = "evaluation_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}".replace('"', "'"), name="status"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    method: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="running")
    parameters: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    software: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    data_snapshot: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    #: Forward validation (LR method), genetic trend and release verdict (migration 0018).
    validation: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    started_at: Mapped[datetime] = created_at()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvaluationResult(Base):
    """An animal's GEBV and reliability for a trait. Released rows change only with a reason."""

    __tablename__ = "evaluation_results"
    __table_args__ = (
        UniqueConstraint("run_id", "animal_id", "trait"),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        CheckConstraint("reliability BETWEEN 0 AND 1", name="reliability_range"),
        CheckConstraint("gebv = gebv AND gebv NOT IN ('Infinity', '-Infinity')", name="gebv_finite"),
        CheckConstraint(f"basis IN {RESULT_BASES!r}".replace('"', "'"), name="basis"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.evaluation_runs.id"), nullable=False, index=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    trait: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.traits.code"), nullable=False)
    gebv: Mapped[float] = mapped_column(Float, nullable=False)
    reliability: Mapped[float] = mapped_column(Float, nullable=False)
    #: ``genomic``: the value uses the animal's own genotype; ``pedigree``: a single-step value
    #: of a non-genotyped animal, from its pedigree and relatives (migration 0019).
    basis: Mapped[str] = mapped_column(String(8), nullable=False, server_default="genomic")
    released: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class ParentageResult(Base):
    __tablename__ = "parentage_results"
    __table_args__ = (
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        CheckConstraint("parent_role IN ('sire', 'dam')", name="parent_role"),
        CheckConstraint(f"status IN {PARENTAGE_STATUSES!r}".replace('"', "'"), name="status"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    parent_role: Mapped[str] = mapped_column(String(4), nullable=False)
    # Of the animal's customer or of the reference catalogue (trigger, migration 0013).
    recorded_parent_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{CORE}.animals.id"), info={"catalogue_reference": "recorded parent"})
    suggested_parent_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{CORE}.animals.id"), info={"catalogue_reference": "suggested parent"})
    informative_snps: Mapped[int] = mapped_column(Integer, nullable=False)
    opposing_homozygotes: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.evaluation_runs.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class Phenotype(Base):
    """An animal's recorded performance for a trait (the evaluation's input)."""

    __tablename__ = "phenotypes"
    __table_args__ = (
        UniqueConstraint("animal_id", "trait", "recorded_on"),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        CheckConstraint("value = value AND value NOT IN ('Infinity', '-Infinity')",
                        name="value_finite"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    trait: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.traits.code"), nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    recorded_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = created_at()


class Inbreeding(Base):
    """An animal's inbreeding from one evaluation run: genomic (G's diagonal) and pedigree."""

    __tablename__ = "inbreeding"
    __table_args__ = (
        UniqueConstraint("run_id", "animal_id"),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.evaluation_runs.id"), nullable=False, index=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    f_genomic: Mapped[float | None] = mapped_column(Float)
    f_pedigree: Mapped[float | None] = mapped_column(Float)
