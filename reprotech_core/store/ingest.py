"""Ingest a genotyping batch into the database: all or nothing, idempotent per file.

The lab's sample IDs in the file are the barcodes registered at sample receipt. Unknown
barcodes, samples genotyped before, and a batch already filled from another file are reported
by name, never guessed; unless the caller explicitly accepts unknown barcodes, the whole batch
is refused. Everything happens in one transaction, so a refused or failed ingest leaves the
store exactly as it was. Re-ingesting the same file (same SHA-256) is a no-op that returns the
earlier result.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from data_models.lab import Genotype, GenotypingBatch, Sample
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import RuleViolation
from reprotech_core.genomics.counts import count_genotypes
from reprotech_core.genomics.finalreport import read_finalreport_files
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.settings import get_settings
from reprotech_core.store.panels import store_panel
from reprotech_core.uploads import check_upload

STAGES_TO_GENOTYPED = ("received", "extracted", "genotyped")


@dataclass
class IngestReport:
    batch: str
    source_sha256: str
    batch_id: int | None = None
    stored: int = 0
    already_ingested: bool = False
    unknown_samples: list[str] = field(default_factory=list)
    already_genotyped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"batch {self.batch}: {self.stored} samples stored"
               + (" (this file was ingested before; nothing changed)"
                  if self.already_ingested else "")]
        if self.unknown_samples:
            out.append(f"unknown sample IDs (not registered): {', '.join(self.unknown_samples)}")
        if self.already_genotyped:
            out.append(f"samples genotyped before: {', '.join(self.already_genotyped)}")
        return out


class IngestRefused(RuleViolation):
    """The batch was refused as a whole; ``report`` names every offending sample."""

    def __init__(self, rule: str, message: str, report: IngestReport) -> None:
        super().__init__(rule, message)
        self.report = report


def file_sha256(paths: Sequence[Path]) -> str:
    """SHA-256 over the files' bytes in order: the identity of an export for idempotency."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def previous_ingest(session: Session, sha: str, batch_name: str) -> IngestReport | None:
    batch = session.scalar(select(GenotypingBatch).where(GenotypingBatch.source_sha256 == sha))
    if batch is None:
        return None
    stored = session.scalar(select(func.count()).select_from(Genotype)
                            .where(Genotype.batch_id == batch.id)) or 0
    return IngestReport(batch=batch.name, source_sha256=sha, batch_id=batch.id, stored=stored,
                        already_ingested=True)


def ingest_genotypes(
    session: Session, geno: GenotypeSet, *, manifest: PanelManifest, batch_name: str,
    source_sha256: str, source_file: str, allow_unknown: bool = False,
) -> IngestReport:
    """Store ``geno`` (read on ``manifest``'s SNP order) as batch ``batch_name``."""
    started = time.perf_counter()
    previous = previous_ingest(session, source_sha256, batch_name)
    if previous is not None:
        return previous
    report = IngestReport(batch=batch_name, source_sha256=source_sha256)
    panel = store_panel(session, manifest)
    if not np.array_equal(geno.snps.names, manifest.snps.names):
        raise RuleViolation("ingest.snp_order", f"batch {batch_name}: genotypes are not on the "
                            f"SNP order of panel {manifest.chip!r}")
    barcodes = [str(s) for s in geno.samples]
    samples = {row.barcode: row for row in session.execute(
        select(Sample.barcode, Sample.id, Sample.customer_id, Sample.animal_id)
        .where(Sample.barcode.in_(barcodes)))}
    report.unknown_samples = sorted(set(barcodes) - samples.keys())
    done = session.execute(
        select(Sample.barcode, GenotypingBatch.name)
        .join(Genotype, Genotype.sample_id == Sample.id)
        .outerjoin(GenotypingBatch, GenotypingBatch.id == Genotype.batch_id)
        .where(Sample.barcode.in_(barcodes))).all()
    report.already_genotyped = sorted(f"{b} (batch {n})" for b, n in done)
    if report.already_genotyped:
        raise IngestRefused("ingest.already_genotyped", f"batch {batch_name}: "
                            f"{len(done)} samples were genotyped before", report)
    if report.unknown_samples and not allow_unknown:
        raise IngestRefused(
            "ingest.unknown_samples",
            f"batch {batch_name}: {len(report.unknown_samples)} of {len(barcodes)} sample IDs "
            f"are not registered samples (first: {', '.join(report.unknown_samples[:5])}); "
            "register them or ingest with allow_unknown to store the known ones",
            report,
        )
    batch = _batch_for(session, batch_name, panel.id, source_sha256, source_file)
    report.batch_id = batch.id
    keep = np.array([b in samples for b in barcodes])
    packed = geno.packed[keep]
    _, per_sample = count_genotypes(packed, len(geno.snps))
    call_rate = 1 - per_sample.missing / max(len(geno.snps), 1)
    rows = []
    for k, barcode in enumerate(b for b in barcodes if b in samples):
        s = samples[barcode]
        rows.append({"customer_id": s.customer_id, "sample_id": s.id, "animal_id": s.animal_id,
                     "panel_id": panel.id, "batch_id": batch.id, "n_snps": len(geno.snps),
                     "calls": packed[k].tobytes(), "call_rate": float(call_rate[k])})
    if rows:
        session.execute(insert(Genotype), rows)
        session.execute(update(Sample).where(Sample.barcode.in_(list(samples)))
                        .values(batch_id=batch.id))
    report.stored = len(rows)
    report.seconds = time.perf_counter() - started
    return report


def _batch_for(session: Session, name: str, panel_id: int, sha: str, source: str
               ) -> GenotypingBatch:
    batch = session.scalar(select(GenotypingBatch).where(GenotypingBatch.name == name))
    if batch is None:
        batch = GenotypingBatch(name=name, stage="received")
        session.add(batch)
        session.flush()
    elif batch.stage not in STAGES_TO_GENOTYPED or batch.source_sha256 is not None:
        raise RuleViolation("ingest.batch_filled", f"batch {name} is at stage {batch.stage} and "
                            "already holds genotypes from another file; use a new batch name")
    batch.panel_id, batch.source_sha256, batch.source_file = panel_id, sha, source
    order = STAGES_TO_GENOTYPED
    for stage in order[order.index(batch.stage) + 1:]:
        batch.stage = stage  # each move is checked and recorded by the stage trigger
        session.flush()
    return batch


def ingest_finalreport(
    db: Database, identity: Identity, paths: Sequence[str | Path], manifest: PanelManifest, *,
    batch_name: str, allow_unknown: bool = False, gc_min: float | None = None,
) -> IngestReport:
    """Read a FinalReport export (one or several files) and ingest it as one batch."""
    files = [Path(p) for p in paths]
    limit = get_settings().upload_max_mb * 2**20
    for path in files:  # size and format before anything reads the file in full
        check_upload(path, max_bytes=limit, kind="finalreport")
    sha = file_sha256(files)
    with db.session(identity) as session:
        previous = previous_ingest(session, sha, batch_name)
    if previous is not None:
        return previous
    options = {} if gc_min is None else {"gc_min": gc_min}
    geno = read_finalreport_files(files, manifest, **options)
    with db.session(identity, reason=f"genotype ingest of batch {batch_name}") as session:
        return ingest_genotypes(session, geno, manifest=manifest, batch_name=batch_name,
                                source_sha256=sha, source_file=", ".join(p.name for p in files),
                                allow_unknown=allow_unknown)
