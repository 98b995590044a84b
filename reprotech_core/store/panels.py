"""SNP panels (chips) in the database: stored once, read back as a :class:`SnpMap`."""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from data_models.lab import PanelSnp, SnpPanel
from reprotech_core.errors import RuleViolation
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.snpmap import SnpMap


def store_panel(session: Session, manifest: PanelManifest) -> SnpPanel:
    """Store a chip's SNP map, or return it when the same map is stored under that name.

    A different map under an existing name is refused: genotypes refer to SNPs by index, so a
    stored panel must never change.
    """
    snps = manifest.snps
    panel = session.scalar(select(SnpPanel).where(SnpPanel.name == manifest.chip))
    if panel is not None:
        stored = load_panel(session, panel.id)
        if not np.array_equal(stored.names, snps.names):
            raise RuleViolation(
                "panel.changed",
                f"panel {manifest.chip!r} is stored with a different SNP list "
                f"({len(stored)} SNPs vs {len(snps)} in the manifest); give the new chip "
                "its own name",
            )
        return panel
    panel = SnpPanel(name=manifest.chip, n_snps=len(snps))
    session.add(panel)
    session.flush()
    session.execute(
        insert(PanelSnp),
        [
            {"panel_id": panel.id, "idx": i, "name": str(n), "chrom": str(c), "position": int(p),
             "allele_a": str(a)[:1] or "A", "allele_b": str(b)[:1] or "B"}
            for i, (n, c, p, a, b) in enumerate(
                zip(snps.names, snps.chrom, snps.pos, snps.allele_a, snps.allele_b, strict=True)
            )
        ],
    )
    return panel


def load_panel(session: Session, panel_id: int) -> SnpMap:
    rows = session.execute(
        select(PanelSnp.name, PanelSnp.chrom, PanelSnp.position, PanelSnp.allele_a,
               PanelSnp.allele_b).where(PanelSnp.panel_id == panel_id).order_by(PanelSnp.idx)
    ).all()
    names, chrom, pos, a, b = (np.array(col) for col in zip(*rows, strict=True))
    return SnpMap(names=names, chrom=chrom, pos=pos.astype(np.int64), allele_a=a, allele_b=b)
