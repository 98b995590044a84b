"""Parentage verification by opposing homozygotes.

A parent passes one of its two alleles to every offspring, so a SNP where parent and
offspring are opposite homozygotes (AA vs BB) excludes the pair, up to genotyping error
(Hayes 2011; ICAR guidelines for SNP-based parentage). A SNP is *informative* for a pair when
both animals are called and the putative parent is homozygous: only then can an opposing
homozygote appear. A true parent shows opposing homozygotes at about the genotyping error
rate (~0.1-0.5 %); an unrelated animal at several percent. The pair is excluded when the
opposing share exceeds ``max_opposing_rate`` (default 1 %), verified when it does not, and
"undetermined" when fewer than ``min_informative`` SNPs are informative (low call rates or
a small panel): a decision on too little evidence is worse than none.

Finding the sire among many candidate bulls is :mod:`.sire_discovery` (by LOD score, which
also tells the sire from his relatives).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack
from reprotech_core.genomics.snpmap import GenotypeSet

VERIFIED, EXCLUDED, UNDETERMINED = "verified", "excluded", "undetermined"
NOT_GENOTYPED = "not genotyped"


def _status(n_opp: np.ndarray, n_inf: np.ndarray, max_rate: float, min_inf: int) -> np.ndarray:
    rate = np.divide(n_opp, n_inf, out=np.full(n_opp.shape, np.nan), where=n_inf > 0)
    status = np.where(rate > max_rate, EXCLUDED, VERIFIED).astype(object)
    status[n_inf < min_inf] = UNDETERMINED
    return status


def check_thresholds(max_opposing_rate: float, min_informative: int) -> None:
    """Refuse opposing-homozygote thresholds that would decide nothing (shared with
    :mod:`.sire_discovery`, whose named sires must pass the same check)."""
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
    check_thresholds(max_opposing_rate, min_informative)
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
