"""Checks between pairs of animals: duplicate samples and parent-progeny conflicts.

Both work on the packed bits. A parent and its progeny share an allele at every SNP, so
opposing homozygotes (AA in one, BB in the other) are conflicts; their rate, over SNPs called
in both, is the usual parentage verification statistic (e.g. Hayes 2011, "Technical note:
Efficient parentage assignment and pedigree reconstruction with dense single nucleotide
polymorphism data", J. Dairy Sci. 94:2114-2117). Duplicate samples are found with
locality-sensitive hashing on bands of highly informative SNPs and then verified on all SNPs,
instead of comparing all n^2 / 2 pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.counts import _mask_words, _words

_LO = np.uint64(0x5555555555555555)
_ONE = np.uint64(1)


def _called_and_homs(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = words & _LO
    hi = (words >> _ONE) & _LO
    return ~(lo & hi) & _LO, ~lo & ~hi & _LO, hi & ~lo  # called, hom A, hom B


def pair_discordance(
    packed: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    *,
    snp_mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Compare animals ``first[i]`` and ``second[i]`` (row indices) on the SNPs of ``snp_mask``
    (all by default).

    Returns columns ``both_called``, ``discordant`` (different genotype), ``opposing_homs``
    (AA vs BB). Missing codes in the row padding count as not called.
    """
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    out = np.zeros((len(first), 3), dtype=np.int64)
    keep = _LO if snp_mask is None else _mask_words(np.asarray(snp_mask), packed.shape[1]) & _LO
    for c0 in range(0, len(first), 4096):
        a = _words(packed[first[c0 : c0 + 4096]])
        b = _words(packed[second[c0 : c0 + 4096]])
        ca, aa_a, bb_a = _called_and_homs(a)
        cb, aa_b, bb_b = _called_and_homs(b)
        both = ca & cb & keep
        diff = (a ^ b) | ((a ^ b) >> _ONE)
        out[c0 : c0 + 4096, 0] = np.bitwise_count(both).sum(axis=1)
        out[c0 : c0 + 4096, 1] = np.bitwise_count(diff & both).sum(axis=1)
        opposing = ((aa_a & bb_b) | (bb_a & aa_b)) & keep
        out[c0 : c0 + 4096, 2] = np.bitwise_count(opposing).sum(axis=1)
    return pd.DataFrame(out, columns=["both_called", "discordant", "opposing_homs"])


def find_duplicates(
    packed: np.ndarray,
    samples: np.ndarray,
    maf: np.ndarray,
    *,
    max_discordance: float = 0.01,
    bands: int = 8,
    band_snps: int = 16,
    seed: int = 0,
) -> pd.DataFrame:
    """Pairs of different sample IDs whose genotypes are near-identical.

    Candidates share one of ``bands`` signatures, each the calls at ``band_snps`` SNPs drawn
    among the most informative (MAF closest to 0.5); a pair with discordance <= 1 % matches a
    band of 16 with probability ~0.85, so 8 bands miss it with probability ~1e-7, while an
    unrelated pair matches by chance with probability ~1e-7 per band. Candidates are then
    verified on all SNPs.

    Returns columns ``sample_1``, ``sample_2``, ``both_called``, ``discordance``.
    """
    if not 1 <= band_snps <= 32:
        raise ValueError(f"band_snps must be 1..32 (a band is one 64-bit key), got {band_snps}")
    first, second = duplicate_candidates(
        lambda snps: calls_at(packed, snps), len(samples), maf,
        bands=bands, band_snps=band_snps, seed=seed,
    )
    if first.size == 0:
        return duplicate_table(samples, first, second, None, max_discordance)
    return duplicate_table(samples, first, second, pair_discordance(packed, first, second),
                           max_discordance)


def calls_at(packed: np.ndarray, snps: np.ndarray) -> np.ndarray:
    """Codes ``(n, len(snps))`` of sorted SNP positions, reading only their bytes."""
    byte_cols = np.unique(snps // 4)
    calls = codes_of(packed[:, byte_cols])
    return calls[:, np.searchsorted(byte_cols, snps // 4) * 4 + snps % 4]


def duplicate_candidates(
    calls_of: Callable[[np.ndarray], np.ndarray],
    n: int,
    maf: np.ndarray,
    *,
    bands: int = 8,
    band_snps: int = 16,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (row indices ``first < second``) sharing a band signature.

    ``calls_of(snps)`` returns the codes ``(n, len(snps))`` at sorted SNP positions, so the
    same bands are drawn whether the calls come from packed rows or a SNP-major ``.bed``.
    """
    none = np.zeros(0, np.int64)
    if n < 2 or len(maf) == 0:
        return none, none
    rng = np.random.default_rng(seed)
    informative = np.argsort(-np.nan_to_num(maf, nan=0.0), kind="stable")
    pool = informative[: max(bands * band_snps * 4, band_snps)]
    pairs: set[tuple[int, int]] = set()
    for _ in range(bands):
        snps = np.sort(rng.choice(pool, size=min(band_snps, len(pool)), replace=False))
        sig = calls_of(snps).astype(np.uint64)
        key = (sig << (2 * np.arange(sig.shape[1], dtype=np.uint64))).sum(axis=1)
        _, group, size = np.unique(key, return_inverse=True, return_counts=True)
        shared = np.flatnonzero((size[group] > 1) & (size[group] <= 50))  # huge = uninformative
        for g in np.unique(group[shared]):
            members = shared[group[shared] == g]
            pairs.update(
                (int(i), int(j)) for k, i in enumerate(members) for j in members[k + 1 :]
            )
    if not pairs:
        return none, none
    first, second = np.array(sorted(pairs), dtype=np.int64).T
    return first, second


def duplicate_table(
    samples: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    stats: pd.DataFrame | None,
    max_discordance: float,
) -> pd.DataFrame:
    """Verified duplicates: candidate pairs of different IDs with discordance <= the limit."""
    cols = ["sample_1", "sample_2", "both_called", "discordance"]
    if stats is None or len(stats) == 0:
        return pd.DataFrame(columns=cols)
    rate = stats["discordant"] / stats["both_called"].clip(lower=1)
    keep = (rate <= max_discordance) & (stats["both_called"] > 0)
    keep &= samples[first] != samples[second]
    return pd.DataFrame(
        {
            "sample_1": samples[first][keep],
            "sample_2": samples[second][keep],
            "both_called": stats["both_called"][keep].to_numpy(),
            "discordance": rate[keep].to_numpy(),
        }
    ).reset_index(drop=True)


def parent_conflicts(
    packed: np.ndarray,
    samples: np.ndarray,
    pedigree: pd.DataFrame,
    *,
    autosomal: np.ndarray | None = None,
    max_conflict_rate: float = 0.01,
    pair_stats: Callable[[np.ndarray, np.ndarray, np.ndarray | None], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Opposing-homozygote rate between each genotyped animal and its recorded parents.

    Only ``autosomal`` SNPs (mask; all by default) are compared: a bull passes no X to his
    sons, so X opposing homozygotes between sire and son are no conflict.

    ``pedigree`` has columns ``animal``, ``sire``, ``dam`` (IDs; missing parents empty/NaN).
    Pairs where either animal is not genotyped are skipped. ``pair_stats(first, second,
    snp_mask)`` replaces :func:`pair_discordance` on ``packed`` when the genotypes are not
    held as packed rows (a SNP-major ``.bed``; ``packed`` is then unused). Returns columns ``animal``,
    ``parent``, ``role`` (sire/dam), ``both_called``, ``opposing_homs``, ``conflict_rate``,
    ``fail`` (rate above ``max_conflict_rate``).
    """
    index = pd.Index(samples)
    rows = []
    for role in ("sire", "dam"):
        if role not in pedigree:
            continue
        sub = pedigree[["animal", role]].dropna()
        a = index.get_indexer(sub["animal"].astype(str))
        p = index.get_indexer(sub[role].astype(str))
        ok = (a >= 0) & (p >= 0)
        rows.append(pd.DataFrame({"a": a[ok], "p": p[ok], "role": role}))
    pairs = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["a", "p", "role"])
    if pair_stats is None:
        def pair_stats(first, second, mask):
            return pair_discordance(packed, first, second, snp_mask=mask)
    stats = pair_stats(pairs["a"].to_numpy(np.int64), pairs["p"].to_numpy(np.int64), autosomal)
    rate = stats["opposing_homs"] / stats["both_called"].clip(lower=1)
    return pd.DataFrame(
        {
            "animal": samples[pairs["a"].to_numpy(np.int64)],
            "parent": samples[pairs["p"].to_numpy(np.int64)],
            "role": pairs["role"].to_numpy(),
            "both_called": stats["both_called"].to_numpy(),
            "opposing_homs": stats["opposing_homs"].to_numpy(),
            "conflict_rate": rate.to_numpy(),
            "fail": (rate > max_conflict_rate).to_numpy(),
        }
    )
