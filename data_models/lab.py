"""The genotyping lab: SNP panels, batches and their stages, samples, genotypes, QC decisions.

A batch (a plate) holds samples of many customers, so batches are lab records seen by lab
staff only; samples, genotypes and QC results are tenant records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql import column, table
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

BATCH_STAGES = ("received", "extracted", "genotyped", "qc", "released", "failed")
QC_DECISIONS = ("pass", "fail", "review")


class SnpPanel(Base):
    """A genotyping chip's SNP list (manifest); genotypes refer to it by index."""

    __tablename__ = "snp_panels"
    __table_args__ = (CheckConstraint("n_snps > 0", name="n_snps_positive"), {"schema": CORE})
    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    n_snps: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class PanelSnp(Base):
    __tablename__ = "panel_snps"
    __table_args__ = (UniqueConstraint("panel_id", "name"), {"schema": CORE})
    panel_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.snp_panels.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    chrom: Mapped[str] = mapped_column(String(8), nullable=False)
    position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    allele_a: Mapped[str] = mapped_column(String(1), nullable=False)
    allele_b: Mapped[str] = mapped_column(String(1), nullable=False)


class GenotypingBatch(Base):
    __tablename__ = "genotyping_batches"
    __table_args__ = (
        CheckConstraint(f"stage IN {BATCH_STAGES!r}".replace('"', "'"), name="stage"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    panel_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.snp_panels.id"))
    stage: Mapped[str] = mapped_column(String(16), nullable=False, server_default="received")
    source_file: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at()


class BatchStageEvent(Base):
    __tablename__ = "batch_stage_events"
    __table_args__ = (
        CheckConstraint(f"stage IN {BATCH_STAGES!r}".replace('"', "'"), name="stage"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    batch_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.genotyping_batches.id"), nullable=False, index=True
    )
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.users.id"))
    occurred_at: Mapped[datetime] = created_at()


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("id", "customer_id"),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tissue: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{CORE}.genotyping_batches.id"), index=True
    )
    received_at: Mapped[datetime] = created_at()


class Genotype(Base):
    """One sample's calls on a panel, 2-bit packed (reprotech_core.genomics.packing)."""

    __tablename__ = "genotypes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["sample_id", "customer_id"], [f"{CORE}.samples.id", f"{CORE}.samples.customer_id"]
        ),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        CheckConstraint("length(calls) = (n_snps + 3) / 4", name="packed_length"),
        CheckConstraint("call_rate BETWEEN 0 AND 1", name="call_rate_range"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    sample_id: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    animal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.snp_panels.id"), nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.genotyping_batches.id"))
    n_snps: Mapped[int] = mapped_column(Integer, nullable=False)
    calls: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    call_rate: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = created_at()


class QcResult(Base):
    """A QC decision on a sample's genotypes (who decided is in the audit log)."""

    __tablename__ = "qc_results"
    __table_args__ = (
        ForeignKeyConstraint(
            ["sample_id", "customer_id"], [f"{CORE}.samples.id", f"{CORE}.samples.customer_id"]
        ),
        CheckConstraint(f"decision IN {QC_DECISIONS!r}".replace('"', "'"), name="decision"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    sample_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.genotyping_batches.id"))
    call_rate: Mapped[float | None] = mapped_column(Float)
    heterozygosity: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    metrics: Mapped[dict | None] = mapped_column(JSONB)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


SampleQcLatest = table(
    "sample_qc_latest",
    *(column(name) for name in ("id", "customer_id", "sample_id", "batch_id", "decision",
                                "reasons", "call_rate", "heterozygosity", "metrics", "decided_at")),
    schema=CORE,
)
"""The view ``core.sample_qc_latest`` (migration 0015): each sample's latest QC decision with
its one tie-break. A lightweight construct, not a mapped table, so Alembic's autogenerate never
mistakes the view for a table to create."""
