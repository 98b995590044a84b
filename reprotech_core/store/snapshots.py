"""Parquet snapshots of the packed genotypes and the analytics tables derived from them.

Layout under the store folder (``<data_dir>/store`` by default)::

    tenants/<customer>/genotypes.parquet     one row per genotyped animal, packed calls
    tenants/<customer>/animal_stats.parquet  call rate, heterozygosity per animal
    research/genotypes.parquet               every animal, pseudonymised (research views)
    research/animal_stats.parquet            per animal (pseudonyms), all tenants
    research/snp_stats.parquet               per panel and SNP: frequency, call rate, MAF, HWE
    research/batch_stats.parquet             per genotyping batch: stage, samples, QC outcome

Snapshots are read through the database as the given identity, so row security decides what
each holds (a tenant snapshot can only contain what that identity may see). Each file is
written to a temporary name and renamed, so readers never see a half-written file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select, text

from data_models.animals import Animal
from data_models.lab import Genotype, GenotypingBatch, QcResult, Sample, SnpPanel
from data_models.tenancy import Customer
from reprotech_core.db.session import Database, Identity
from reprotech_core.genomics.counts import count_genotypes
from reprotech_core.genomics.qc import QcThresholds, snp_table
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.ops.private_files import share_research_store
from reprotech_core.store.genotypes import genotype_matrix
from reprotech_core.store.panels import load_panel


@dataclass(frozen=True)
class SnapshotSummary:
    tenants: dict[str, int]
    research_animals: int
    snps: int
    folder: Path


def _write(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write atomically, readable by owner and group only (tenant data: the dashboard service
    reads it through its group; other accounts on the machine cannot)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def _animal_stats(geno: GenotypeSet) -> tuple[np.ndarray, np.ndarray]:
    n_snps = len(geno.snps)
    _, per = count_genotypes(geno.packed, n_snps)
    called = n_snps - per.missing
    with np.errstate(invalid="ignore", divide="ignore"):
        return called / n_snps, per.het / called


def write_snapshots(db: Database, identity: Identity, folder: Path) -> SnapshotSummary:
    tenants: dict[str, int] = {}
    panels: dict[int, SnpMap] = {}
    with db.session(identity) as session:

        def panel(panel_id: int) -> SnpMap:  # each panel's map read once per snapshot
            if panel_id not in panels:
                panels[panel_id] = load_panel(session, panel_id)
            return panels[panel_id]

        customers = session.execute(
            select(Customer.id, Customer.code).order_by(Customer.code)).all()
        for cid, code in customers:
            rows = session.execute(
                select(Genotype.animal_id, Animal.official_id, Sample.barcode,
                       SnpPanel.name.label("panel"), Genotype.n_snps, Genotype.call_rate,
                       Genotype.calls, Genotype.panel_id)
                .join(Animal, Animal.id == Genotype.animal_id)
                .join(Sample, Sample.id == Genotype.sample_id)
                .join(SnpPanel, SnpPanel.id == Genotype.panel_id)
                .where(Genotype.customer_id == cid).order_by(Genotype.animal_id)).all()
            if not rows:
                continue
            frame = pd.DataFrame(rows, columns=["animal_id", "official_id", "sample", "panel",
                                                "n_snps", "call_rate", "calls", "panel_id"])
            _write(frame.drop(columns=["panel_id"]),
                   folder / "tenants" / code / "genotypes.parquet")
            stats = []
            for _, part in frame.groupby("panel"):
                geno = genotype_matrix(list(part["calls"]), part["animal_id"],
                                       panel(int(part["panel_id"].iloc[0])))
                rate, het = _animal_stats(geno)
                stats.append(part[["animal_id", "official_id", "panel"]].assign(
                    call_rate=rate, heterozygosity=het))
            _write(pd.concat(stats), folder / "tenants" / code / "animal_stats.parquet")
            tenants[code] = len(frame)
        research = pd.DataFrame(session.execute(text(
            "SELECT g.animal, a.herd, a.customer, a.breed, a.sex, a.birth_year, "
            "p.name AS panel, g.panel_id, g.n_snps, g.call_rate, g.calls "
            "FROM research.genotypes g JOIN research.animals a USING (animal) "
            "JOIN core.snp_panels p ON p.id = g.panel_id ORDER BY g.animal")).mappings().all())
        research_panels = {int(pid): panel(int(pid))
                           for pid in (research["panel_id"].unique() if len(research) else [])}
        batches = pd.DataFrame(session.execute(
            select(GenotypingBatch.name.label("batch"), GenotypingBatch.stage,
                   func.count(func.distinct(Genotype.id)).label("samples"),
                   func.avg(Genotype.call_rate).label("mean_call_rate"),
                   func.count(func.distinct(QcResult.id)).filter(QcResult.decision == "fail")
                   .label("qc_failed"),
                   func.count(func.distinct(QcResult.id)).filter(QcResult.decision == "review")
                   .label("qc_review"))
            .outerjoin(Genotype, Genotype.batch_id == GenotypingBatch.id)
            .outerjoin(QcResult, QcResult.batch_id == GenotypingBatch.id)
            .group_by(GenotypingBatch.id).order_by(GenotypingBatch.name)).mappings().all())
    _write(batches, folder / "research" / "batch_stats.parquet")
    n_snps = 0
    if len(research):
        _write(research.drop(columns=["panel_id"]), folder / "research" / "genotypes.parquet")
        snp_frames, animal_frames = [], []
        for pid, part in research.groupby("panel_id"):
            snps = research_panels[int(pid)]
            geno = genotype_matrix(list(part["calls"]), part["animal"], snps)
            counts, _ = count_genotypes(geno.packed, len(snps))
            table = snp_table(geno, counts, thresholds=QcThresholds())
            snp_frames.append(table.drop(columns=["fail"]).assign(panel=part["panel"].iloc[0]))
            rate, het = _animal_stats(geno)
            animal_frames.append(part[["animal", "herd", "customer", "breed", "sex",
                                       "birth_year", "panel"]].assign(
                call_rate=rate, heterozygosity=het))
            n_snps += len(snps)
        _write(pd.concat(snp_frames), folder / "research" / "snp_stats.parquet")
        _write(pd.concat(animal_frames), folder / "research" / "animal_stats.parquet")
    share_research_store(folder)  # researchers' notebook accounts read research/, nothing else
    return SnapshotSummary(tenants, len(research), n_snps, folder)
