"""A trait with known QTL on a real cohort's genotypes, for power and accuracy planning.

Before a new trait is recorded, the useful question is what a GWAS would find and how
accurate GBLUP would be for a given heritability on *these* animals. The trait is simulated
on the cohort's own calls (so LD, relatedness and allele frequencies are real): ``n_qtl``
autosomal SNPs with normal effects, breeding values scaled to variance ``h2``, plus noise of
variance ``1 - h2`` (Falconer & Mackay 1996). The notebooks also use it while the research
views expose no phenotype records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack

from .cohort import Cohort


def simulate_trait(cohort: Cohort, *, h2: float = 0.3, n_qtl: int = 10, seed: int = 0,
                   name: str = "trait") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records ``animal, <name>``, QTL ``snp, chrom, pos, effect``) for the cohort."""
    if not 0.0 < h2 < 1.0:
        raise ValueError(f"h2 must be in (0, 1), got {h2}")
    cohort.require_genotypes("a simulated trait", minimum=2)
    rng = np.random.default_rng(seed)
    auto = np.flatnonzero(cohort.autosomal_mask())
    d = unpack(cohort.packed, cohort.n_snps)[:, auto].astype(np.float64)
    called = d != MISSING
    mean = np.where(called, d, 0).sum(0) / np.maximum(called.sum(0), 1)
    d = np.where(called, d, mean)
    poly = np.flatnonzero(d.std(axis=0) > 0)
    if poly.size == 0:
        raise ValueError("no polymorphic autosomal SNP to place QTL on")
    qtl = np.sort(rng.choice(poly, size=min(n_qtl, poly.size), replace=False))
    effects = rng.normal(size=qtl.size)
    tbv = d[:, qtl] @ effects
    tbv = (tbv - tbv.mean()) * np.sqrt(h2 / tbv.var()) if tbv.var() > 0 else tbv * 0
    y = tbv + rng.normal(scale=np.sqrt(1 - h2), size=tbv.size)
    snps = cohort.snps
    qtl_table = pd.DataFrame({"snp": snps.names[auto[qtl]], "chrom": snps.chrom[auto[qtl]],
                              "pos": snps.pos[auto[qtl]], "effect": effects})
    return pd.DataFrame({"animal": cohort.animals["animal"].to_numpy(), name: y}), qtl_table
