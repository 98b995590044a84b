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
from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import GenotypingBatch, QcResult, Sample
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.genomics.qc import QcThresholds, run_qc
from reprotech_core.genomics.plink_reports import write_qc_reports
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.genotypes import read_genotypes


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
    own = read_genotypes(session, panel_id=batch.panel_id, batch_id=batch.id, label="barcode")
    if not len(own.samples):
        raise RuleViolation("qc.empty_batch", f"batch {batch.name} has no stored genotypes")
    animals = _animals_of(session, own.samples)
    parent_ids = {p for a in animals.values() for p in (a.sire_id, a.dam_id) if p}
    parents = read_genotypes(session, panel_id=batch.panel_id, animal_ids=parent_ids,
                             exclude_batch_id=batch.id, label="barcode")
    geno = GenotypeSet(packed=np.concatenate([own.packed, parents.packed]),
                       samples=np.concatenate([own.samples, parents.samples]),
                       snps=own.snps, sex=np.concatenate([own.sex, parents.sex]))
    animals.update(_animals_of(session, parents.samples))
    barcode_of = {animals[b].id: b for b in geno.samples}
    unchecked = [None] * len(parents.samples)  # earlier batches' parents are checked against
    pedigree = pd.DataFrame({
        "animal": geno.samples,
        "sire": [barcode_of.get(animals[b].sire_id) for b in own.samples] + unchecked,
        "dam": [barcode_of.get(animals[b].dam_id) for b in own.samples] + unchecked,
        "in_batch": np.arange(len(geno.samples)) < len(own.samples),
    })
    return geno, pedigree


def _animals_of(session: Session, barcodes: np.ndarray) -> dict[str, Row]:
    """Barcode -> the sampled animal's ``id, sire_id, dam_id``."""
    if not len(barcodes):
        return {}
    rows = session.execute(
        select(Sample.barcode, Animal.id, Animal.sire_id, Animal.dam_id)
        .join(Animal, Animal.id == Sample.animal_id)
        .where(Sample.barcode.in_([str(b) for b in barcodes]))).all()
    return {r.barcode: r for r in rows}


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
