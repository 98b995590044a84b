"""Parentage verification and sire discovery by opposing homozygotes.

A parent passes one of its two alleles to every offspring, so a SNP where parent and
offspring are opposite homozygotes (AA vs BB) excludes the pair, up to genotyping error
(Hayes 2011; ICAR guidelines for SNP-based parentage). A SNP is *informative* for a pair when
both animals are called and the putative parent is homozygous: only then can an opposing
homozygote appear. A true parent shows opposing homozygotes at about the genotyping error
rate (~0.1-0.5 %); an unrelated animal at several percent. The pair is excluded when the
opposing share exceeds ``max_opposing_rate`` (default 1 %), verified when it does not, and
"undetermined" when fewer than ``min_informative`` SNPs are informative (low call rates or
a small panel): a decision on too little evidence is worse than none.

Counts for many offspring x many candidate bulls are indicator-matrix products, computed in
float32 BLAS over blocks of SNPs (exact for counts below 2^24).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack
from reprotech_core.genomics.snpmap import GenotypeSet

from .grm import DEFAULT_BLOCK_SNPS, unpack_snp_block

VERIFIED, EXCLUDED, UNDETERMINED = "verified", "excluded", "undetermined"
NOT_GENOTYPED = "not genotyped"


def _status(n_opp: np.ndarray, n_inf: np.ndarray, max_rate: float, min_inf: int) -> np.ndarray:
    rate = np.divide(n_opp, n_inf, out=np.full(n_opp.shape, np.nan), where=n_inf > 0)
    status = np.where(rate > max_rate, EXCLUDED, VERIFIED).astype(object)
    status[n_inf < min_inf] = UNDETERMINED
    return status


def _check_thresholds(max_opposing_rate: float, min_informative: int) -> None:
    if not 0.0 < max_opposing_rate < 1.0:
        raise ValueError(f"max_opposing_rate must be in (0, 1), got {max_opposing_rate}")
    if min_informative < 1:
        raise ValueError(f"min_informative must be >= 1, got {min_informative}")


def pair_counts(offspring: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(opposing homozygotes, informative SNPs) per row pair of dosage arrays (pairs x m)."""
    called = (offspring != MISSING) & (parent != MISSING)
    parent_hom = called & ((parent == 0) | (parent == 2))
    opposing = parent_hom & (np.abs(offspring.astype(np.int16) - parent) == 2)
    return opposing.sum(axis=1), parent_hom.sum(axis=1)


def verify_parents(
    geno: GenotypeSet,
    pedigree: pd.DataFrame,
    *,
    max_opposing_rate: float = 0.01,
    min_informative: int = 500,
    block_pairs: int = 1024,
) -> pd.DataFrame:
    """Check each recorded sire and dam against the offspring's genotypes.

    Parameters
    ----------
    geno
        Packed genotypes; sample IDs are the animal IDs the pedigree names.
    pedigree
        ``animal, sire, dam``; unknown parents are null. Only genotyped animals are checked.

    Returns
    -------
    DataFrame
        ``animal, role (sire/dam), parent, n_informative, n_opposing, opposing_rate, status``
        with status verified / excluded / undetermined / not genotyped (parent lacks genotypes).
    """
    _check_thresholds(max_opposing_rate, min_informative)
    packed, n_snps = geno.packed, len(geno.snps)
    index = {str(a): i for i, a in enumerate(geno.samples)}
    for col in ("animal", "sire", "dam"):
        if col not in pedigree.columns:
            raise ValueError(f"pedigree has no column {col!r}")
    rows = []
    for role in ("sire", "dam"):
        sub = pedigree[pedigree["animal"].astype(str).isin(index) & pedigree[role].notna()]
        for a, par in zip(sub["animal"].astype(str), sub[role].astype(str)):
            rows.append((a, role, par))
    table = pd.DataFrame(rows, columns=["animal", "role", "parent"])
    n_opp = np.zeros(len(table), dtype=np.int64)
    n_inf = np.zeros(len(table), dtype=np.int64)
    typed = table["parent"].isin(index).to_numpy()
    pairs = np.flatnonzero(typed)
    for i in range(0, pairs.size, block_pairs):
        blk = pairs[i:i + block_pairs]
        off = unpack(packed[[index[a] for a in table["animal"].iloc[blk]]], n_snps)
        par = unpack(packed[[index[p] for p in table["parent"].iloc[blk]]], n_snps)
        n_opp[blk], n_inf[blk] = pair_counts(off, par)
    table["n_informative"] = n_inf
    table["n_opposing"] = n_opp
    table["opposing_rate"] = np.divide(n_opp, n_inf, out=np.full(len(table), np.nan),
                                       where=n_inf > 0)
    status = _status(n_opp, n_inf, max_opposing_rate, min_informative)
    status[~typed] = NOT_GENOTYPED
    table["status"] = status
    return table


def opposing_matrix(
    geno: GenotypeSet,
    offspring: np.ndarray,
    candidates: np.ndarray,
    *,
    block_snps: int = DEFAULT_BLOCK_SNPS,
) -> tuple[np.ndarray, np.ndarray]:
    """Opposing-homozygote and informative-SNP counts for every offspring x candidate pair
    (``offspring`` and ``candidates`` are row positions in ``geno``)."""
    n_snps = len(geno.snps)
    n_opp = np.zeros((offspring.size, candidates.size), dtype=np.float32)
    n_inf = np.zeros_like(n_opp)
    sub = geno.packed[np.concatenate([offspring, candidates])]
    for j0 in range(0, n_snps, block_snps):
        d = unpack_snp_block(sub, n_snps, j0, min(j0 + block_snps, n_snps))
        o, c = d[: offspring.size], d[offspring.size:]
        o0, o2 = (o == 0).astype(np.float32), (o == 2).astype(np.float32)
        oc = (o != MISSING).astype(np.float32)
        c0, c2 = (c == 0).astype(np.float32), (c == 2).astype(np.float32)
        n_opp += o0 @ c2.T + o2 @ c0.T
        n_inf += oc @ (c0 + c2).T
    return n_opp.astype(np.int64), n_inf.astype(np.int64)


def discover_sires(
    geno: GenotypeSet,
    offspring: Sequence[str],
    candidates: Sequence[str],
    *,
    max_opposing_rate: float = 0.01,
    min_informative: int = 500,
) -> pd.DataFrame:
    """Find the compatible sire among genotyped candidate bulls for each offspring.

    ``offspring`` and ``candidates`` are sample IDs of ``geno``. Returns ``animal,
    best_sire, best_rate, n_informative, n_compatible, second_rate, status``: status "found"
    (exactly one compatible bull), "ambiguous" (several, e.g. full brothers or a sire and his
    son), "none compatible" or "undetermined" (too few informative SNPs for the best
    candidate).
    """
    _check_thresholds(max_opposing_rate, min_informative)
    index = {str(a): i for i, a in enumerate(geno.samples)}
    missing = [a for a in list(offspring) + list(candidates) if a not in index]
    if missing:
        raise ValueError(f"{len(missing)} animals have no genotypes, e.g. {missing[:5]}")
    if len(candidates) == 0:
        raise ValueError("no candidate sires given")
    off = np.array([index[a] for a in offspring], dtype=np.int64)
    cand = np.array([index[a] for a in candidates], dtype=np.int64)
    n_opp, n_inf = opposing_matrix(geno, off, cand)
    rate = np.divide(n_opp, n_inf, out=np.full(n_opp.shape, np.inf), where=n_inf > 0)
    rate[n_inf < min_informative] = np.inf
    rate[off[:, None] == cand[None, :]] = np.inf  # an animal is not its own sire
    order = np.argsort(rate, axis=1)
    rows = np.arange(off.size)
    best = order[:, 0]
    second = rate[rows, order[:, 1]] if cand.size > 1 else np.full(off.size, np.inf)
    compatible = (rate <= max_opposing_rate).sum(axis=1)
    best_rate = rate[rows, best]
    status = np.select(
        [np.isinf(best_rate), compatible == 1, compatible > 1],
        [UNDETERMINED, "found", "ambiguous"], default="none compatible")
    return pd.DataFrame({
        "animal": list(offspring),
        "best_sire": [candidates[b] if s != UNDETERMINED else None for b, s in zip(best, status)],
        "best_rate": np.where(np.isinf(best_rate), np.nan, best_rate),
        "n_informative": n_inf[rows, best],
        "n_compatible": compatible,
        "second_rate": np.where(np.isinf(second), np.nan, second),
        "status": status,
    })
