"""QC of a stored batch: the genomics QC run on its genotypes, recorded as decisions.

Each sample gets a decision (audited, like every write): ``fail`` when its own calls fail
(call rate, heterozygosity outlier); ``review`` when the data disagree with the records in a
way a person must resolve (genotype sex differs from the recorded sex, near-duplicate of
another sample, opposing homozygotes with a recorded genotyped parent — a likely mislabel or
wrong sire); ``pass`` otherwise. The batch moves to stage ``qc``; reports (TSV and PLINK 2's
formats) are written next to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert, null, select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import Genotype, GenotypingBatch, QcResult, Sample
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.genomics.qc import QcThresholds, run_qc
from reprotech_core.genomics.plink_reports import write_qc_reports
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.panels import load_panel


@dataclass(frozen=True)
class BatchQcSummary:
    batch: str
    samples: int
    passed: int
    failed: int
    review: int
    failed_snps: int
    report_dir: Path


def load_batch(session: Session, batch: GenotypingBatch) -> tuple[GenotypeSet, pd.DataFrame]:
    """The batch's genotypes (samples = barcodes, with recorded sex) and their pedigree,
    with genotyped parents from earlier batches on the same panel added for parent checks."""
    snps = load_panel(session, batch.panel_id)
    rows = session.execute(
        select(Sample.barcode, Genotype.calls, Animal.id, Animal.sex, Animal.sire_id,
               Animal.dam_id, Genotype.batch_id)
        .join(Sample, Sample.id == Genotype.sample_id)
        .join(Animal, Animal.id == Genotype.animal_id)
        .where(Genotype.batch_id == batch.id)
        .order_by(Sample.barcode)).all()
    if not rows:
        raise RuleViolation("qc.empty_batch", f"batch {batch.name} has no stored genotypes")
    parent_ids = {p for r in rows for p in (r.sire_id, r.dam_id) if p}
    parents = session.execute(
        select(Sample.barcode, Genotype.calls, Animal.id, Animal.sex,
               null().label("sire_id"), null().label("dam_id"), Genotype.batch_id)
        .join(Sample, Sample.id == Genotype.sample_id)
        .join(Animal, Animal.id == Genotype.animal_id)
        .where(Genotype.animal_id.in_(parent_ids), Genotype.batch_id != batch.id,
               Genotype.panel_id == batch.panel_id)).all() if parent_ids else []
    everyone = list(rows) + list(parents)
    barcode_of = {r[2]: r[0] for r in everyone}
    geno = GenotypeSet(
        packed=np.frombuffer(b"".join(r[1] for r in everyone), dtype=np.uint8)
        .reshape(len(everyone), -1).copy(),
        samples=np.array([r[0] for r in everyone]),
        snps=snps,
        sex=np.array([1 if r[3] == "M" else 2 for r in everyone], dtype=np.int8),
    )
    pedigree = pd.DataFrame({
        "animal": [r[0] for r in everyone],
        "sire": [barcode_of.get(r[4]) for r in everyone],
        "dam": [barcode_of.get(r[5]) for r in everyone],
        "in_batch": [r[6] == batch.id for r in everyone],
    })
    return geno, pedigree


def qc_batch(
    session: Session, batch_name: str, *, report_root: Path,
    thresholds: QcThresholds = QcThresholds(),
) -> BatchQcSummary:
    batch = session.scalar(select(GenotypingBatch).where(GenotypingBatch.name == batch_name))
    if batch is None:
        raise NotFound(f"no genotyping batch {batch_name!r}")
    if batch.stage != "genotyped":
        raise RuleViolation("qc.stage", f"batch {batch_name} is at stage {batch.stage}; QC runs "
                            "on a genotyped batch")
    geno, pedigree = load_batch(session, batch)
    in_batch = pedigree["in_batch"].to_numpy()
    result = run_qc(geno, thresholds=thresholds, pedigree=pedigree[["animal", "sire", "dam"]])
    decisions = _decide(result, geno, in_batch)
    sample_ids = dict(session.execute(
        select(Sample.barcode, Sample.id).where(Sample.barcode.in_(list(decisions.index)))).all())
    customers = dict(session.execute(
        select(Sample.barcode, Sample.customer_id).where(Sample.barcode.in_(list(decisions.index)))
    ).all())
    now = datetime.now(UTC)
    session.execute(insert(QcResult), [
        {"customer_id": customers[b], "sample_id": sample_ids[b], "batch_id": batch.id,
         "call_rate": float(d.call_rate), "heterozygosity": _finite(d.het_rate),
         "decision": d.decision, "reasons": d.reasons, "metrics": {"het_z": _finite(d.het_z)},
         "decided_at": now}
        for b, d in decisions.iterrows()
    ])
    batch.stage = "qc"
    session.flush()
    report_dir = report_root / "qc" / batch_name
    report_dir.mkdir(parents=True, exist_ok=True)
    write_qc_reports(result, report_dir / batch_name)
    decisions.to_csv(report_dir / "decisions.tsv", sep="\t")
    counts = decisions["decision"].value_counts()
    return BatchQcSummary(batch_name, len(decisions), int(counts.get("pass", 0)),
                          int(counts.get("fail", 0)), int(counts.get("review", 0)),
                          len(result.failed_snps), report_dir)


REVIEW_LABELS = frozenset({"sex_mismatch", "duplicate"})
"""QC findings that point at the records (mislabel, wrong animal), not at the sample's calls."""


def _decide(result, geno: GenotypeSet, in_batch: np.ndarray) -> pd.DataFrame:
    samples = result.samples.set_index("sample").loc[geno.samples[in_batch]]
    decisions, reasons = [], []
    conflicts = (result.parents[result.parents["fail"].astype(bool)]
                 if len(result.parents) else result.parents)
    for sample, fail in samples["fail"].items():
        labels = [label for label in str(fail).split(";") if label]
        hard = [label for label in labels if label not in REVIEW_LABELS]
        found = list(labels)
        if len(conflicts):
            for row in conflicts[conflicts["animal"] == sample].itertuples():
                found.append(f"{row.role} {row.parent}: {row.opposing_homs} opposing "
                             f"homozygotes in {row.both_called} SNPs")
        decisions.append("fail" if hard else "review" if found else "pass")
        reasons.append(found)
    return samples.assign(decision=decisions, reasons=reasons)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def release_batches(session: Session, names: list[str] | None = None) -> list[str]:
    """Release QC'd batches (all at stage ``qc``, or the named ones) to evaluations.

    The stage trigger refuses a batch that is not at ``qc`` and records each move.
    """
    query = select(GenotypingBatch)
    query = (query.where(GenotypingBatch.name.in_(names)) if names
             else query.where(GenotypingBatch.stage == "qc"))
    batches = list(session.scalars(query.order_by(GenotypingBatch.name)))
    missing = sorted(set(names or []) - {b.name for b in batches})
    if missing:
        raise NotFound(f"no genotyping batch {', '.join(repr(m) for m in missing)}")
    for batch in batches:
        batch.stage = "released"
    session.flush()
    return [b.name for b in batches]
