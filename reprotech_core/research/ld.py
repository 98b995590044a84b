"""Linkage disequilibrium decay with distance and effective population size from LD.

r² is the squared Pearson correlation of genotype dosages between two SNPs over the animals
called at both (the unphased, genotypic r² of PLINK ``--r2``; Hill & Robertson 1968 for the
haplotypic version, which it approximates under HWE). Pairs are taken within a window of
consecutive SNPs on the same chromosome, so the cost is ``n x m x window`` and not ``m²``.

Ne from LD (Sved 1971; Hayes et al. 2003): ``E[r²] = 1 / (1 + 4 Ne c) + 1/n`` for markers
``c`` Morgans apart and ``n`` sampled animals (Weir & Hill 1980's sampling term), so
``Ne = (1 / (r² - 1/n) - 1) / (4c)``; LD at distance ``c`` reflects Ne about ``1 / (2c)``
generations ago. Distances are converted with a constant ``cm_per_mb`` (1 cM/Mb in cattle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack

from .cohort import Cohort
from .diversity import Analysis
from .provenance import record


def pair_r2(dosages: np.ndarray, *, window_snps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r² of every SNP pair at most ``window_snps`` apart on one chromosome.

    ``dosages`` is ``n x m`` int8 with :data:`MISSING`. Returns (index i, index j, r²); pairs
    where either SNP has no variance among the animals called at both get NaN.
    """
    d = np.asarray(dosages)
    called = (d != MISSING).astype(np.float64)
    x = np.where(d == MISSING, 0, d).astype(np.float64)
    x2 = x * x
    m = d.shape[1]
    out_i, out_j, out_r = [], [], []
    for k in range(1, min(window_snps, m - 1) + 1):
        ma, mb = called[:, :-k], called[:, k:]
        a, b = x[:, :-k], x[:, k:]
        n = (ma * mb).sum(axis=0)
        sa, sb = (a * mb).sum(axis=0), (b * ma).sum(axis=0)
        saa, sbb = (x2[:, :-k] * mb).sum(axis=0), (x2[:, k:] * ma).sum(axis=0)
        sab = (a * b).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sab / n - sa * sb / n**2
            va, vb = saa / n - (sa / n) ** 2, sbb / n - (sb / n) ** 2
            r2 = np.where((va > 1e-12) & (vb > 1e-12) & (n > 1), cov**2 / (va * vb), np.nan)
        i = np.arange(m - k)
        out_i.append(i)
        out_j.append(i + k)
        out_r.append(r2)
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_r)


def ld_decay(
    cohort: Cohort,
    *,
    window_snps: int = 50,
    max_distance_kb: float = 5000.0,
    bin_kb: float = 250.0,
    max_animals: int | None = 2000,
    seed: int = 0,
) -> Analysis:
    """Mean r² by distance bin over the autosomes.

    ``max_animals`` caps the animals used (a random sample with ``seed``): r² needs a few
    hundred animals, not ten thousand. Returns rows ``bin_start_kb, bin_end_kb,
    mean_distance_kb, n_pairs, mean_r2`` and, in ``n_animals``, the sample size behind them
    (the ``1/n`` of :func:`ne_from_ld`).
    """
    if window_snps < 1 or bin_kb <= 0 or max_distance_kb <= 0:
        raise ValueError("window_snps, bin_kb and max_distance_kb must be positive")
    cohort.require_genotypes("LD decay", minimum=3)
    rows = np.arange(cohort.n_animals)
    if max_animals is not None and cohort.n_animals > max_animals:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_animals, replace=False))
    chrom = cohort.snps.chrom.astype(str)
    auto = cohort.autosomal_mask()
    dist, r2 = [], []
    for c in pd.unique(chrom[auto]):
        cols = np.flatnonzero(chrom == c)
        cols = cols[np.argsort(cohort.snps.pos[cols], kind="stable")]
        dos = unpack(cohort.packed[rows], cohort.n_snps)[:, cols]
        i, j, r = pair_r2(dos, window_snps=window_snps)
        pos = cohort.snps.pos[cols].astype(np.float64)
        dist.append(np.abs(pos[j] - pos[i]) / 1000.0)
        r2.append(r)
    d, r = (np.concatenate(dist), np.concatenate(r2)) if dist else (np.empty(0), np.empty(0))
    keep = np.isfinite(r) & (d <= max_distance_kb)
    if not keep.any():
        raise ValueError("no SNP pair with variance within the distance limit: LD undefined")
    edges = np.arange(0.0, max_distance_kb + bin_kb, bin_kb)
    b = np.digitize(d[keep], edges) - 1
    frame = pd.DataFrame({"bin": b, "d": d[keep], "r2": r[keep]})
    agg = frame.groupby("bin").agg(mean_distance_kb=("d", "mean"), n_pairs=("r2", "size"),
                                   mean_r2=("r2", "mean")).reset_index()
    agg.insert(0, "bin_start_kb", edges[agg["bin"]])
    agg.insert(1, "bin_end_kb", edges[agg["bin"]] + bin_kb)
    table = agg.drop(columns="bin").assign(n_animals=len(rows))
    prov = record("ld_decay", snapshot=cohort.snapshot, inputs={"cohort": cohort},
                  parameters={"window_snps": window_snps, "max_distance_kb": max_distance_kb,
                              "bin_kb": bin_kb, "max_animals": max_animals, "seed": seed})
    return Analysis(table, prov)


def ne_from_ld(decay: Analysis | pd.DataFrame, *, cm_per_mb: float = 1.0) -> Analysis:
    """Ne per distance bin from mean r² (Sved 1971 with the 1/n sample correction).

    Adds ``c_morgan``, ``generations_ago`` (``1 / 2c``) and ``ne``; bins whose r² is not above
    the sampling floor ``1/n`` (no information on Ne) get NaN.
    """
    table = decay.table if isinstance(decay, Analysis) else decay
    for col in ("mean_distance_kb", "mean_r2", "n_animals"):
        if col not in table.columns:
            raise ValueError(f"LD decay table has no column {col!r}")
    if cm_per_mb <= 0:
        raise ValueError(f"cm_per_mb must be positive, got {cm_per_mb}")
    c = table["mean_distance_kb"].to_numpy(float) / 1000.0 * cm_per_mb / 100.0
    excess = table["mean_r2"].to_numpy(float) - 1.0 / table["n_animals"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ne = np.where((excess > 0) & (c > 0), (1.0 / excess - 1.0) / (4.0 * c), np.nan)
        gens = np.where(c > 0, 1.0 / (2.0 * c), np.nan)
    out = table.assign(c_morgan=c, generations_ago=gens, ne=ne)
    inputs = {"decay": table}
    snapshot = decay.provenance.snapshot if isinstance(decay, Analysis) else "in-memory"
    prov = record("ne_from_ld", snapshot=snapshot, inputs=inputs,
                  parameters={"cm_per_mb": cm_per_mb})
    return Analysis(out, prov)
