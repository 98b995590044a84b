"""Sire discovery by likelihood: which genotyped bull is the sire, with a LOD score.

Opposing homozygotes (:mod:`.parentage`) exclude unrelated bulls, but they cannot tell the
true sire from his own sire or his sons: at a SNP where those relatives carry the sire's
allele they are just as compatible, and at tens of thousands of SNPs a close relative is
still "compatible" often enough to make the discovery ambiguous. National parentage services
rank the candidates by likelihood instead (Marshall et al. 1998, CERVUS; Kalinowski, Taper &
Marshall 2007): for each candidate bull

    LOD = sum over SNPs of log10 P(offspring | candidate is the sire, dam)
                           - log10 P(offspring | the sire is a random bull, dam)

with the population's allele frequencies. The dam's genotype (trio) halves the ways the
offspring's genotype can arise, so the paternal allele is known at most SNPs and a relative
that carries the other paternal allele loses heavily; where the dam is not genotyped (or not
compatible, or a call is missing) her allele is a random draw and the SNP counts as a pair.

Genotyping errors: with probability ``epsilon`` the offspring's observed genotype is a random
draw from the Hardy-Weinberg genotype frequencies (the CERVUS error model). A SNP where the
candidate cannot have transmitted the offspring's allele then costs him about
``log10(epsilon)`` instead of excluding him, so one error does not lose the true sire, while
a relative, with hundreds of such SNPs, falls far behind.

Decision (as CERVUS): the best candidate is named when his LOD is at least ``min_lod`` and
exceeds the second's by at least ``min_delta``; with a smaller lead the offspring is
"ambiguous" (the top candidates and their LODs are reported). As a safety net for the case
where the true sire is not genotyped but a close relative is, the named bull must also pass
the opposing-homozygote verification; otherwise "no sire found".

A candidate's contribution at a SNP depends only on his genotype (0/1/2) given the offspring
and dam, so the LOD of every offspring x candidate pair is ``sum_c W_c @ [candidate == c]^T``:
three float32 GEMMs per block of SNPs, accumulated in float64. Eligible candidates are males
born at least ``min_sire_age_days`` before the offspring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack
from reprotech_core.genomics.snpmap import GenotypeSet

from .grm import allele_frequencies, unpack_snp_block
from .parentage import UNDETERMINED, check_thresholds, pair_counts

FOUND, AMBIGUOUS, NO_SIRE = "found", "ambiguous", "no sire found"
DEFAULT_EPSILON = 0.01  # CERVUS's customary error rate; 20x the simulator's and typical chips'
DEFAULT_MIN_LOD = 3.0  # the best bull is 1000x likelier the sire than a random bull
DEFAULT_MIN_DELTA = 3.0  # ... and 1000x likelier than the runner-up
# Earliest a bull can sire a calf: puberty and first semen at ~10.5 months, then ~280 days
# of gestation.
DEFAULT_MIN_SIRE_AGE_DAYS = 600
_FREQ_CLIP = 0.01  # a population frequency of 0 would make one error infinitely unlikely
_TOP_SHOWN = 3
_ROWS_PER_BLOCK = 1024
_BLOCK_SNPS = 2048


def lod_weights(offspring: np.ndarray, dam: np.ndarray, p: np.ndarray,
                epsilon: float) -> np.ndarray:
    """LOD contribution (3 x n x m, float32) of a candidate with genotype 0, 1, 2 at each SNP,
    for offspring dosages (n x m) with their dams' (MISSING where unknown) and B-allele
    frequencies ``p`` (m). Zero where the offspring is not called."""
    p = p.astype(np.float64)[None, :]
    called = offspring != MISSING
    o = np.where(called, offspring, 0)
    p_obs = np.select([o == 0, o == 1], [(1 - p) ** 2, 2 * p * (1 - p)], p ** 2)  # HWE
    t_dam = np.where(dam == MISSING, p, dam / 2.0)  # chance the dam passes the B allele

    def likelihood(t_sire: np.ndarray | float) -> np.ndarray:
        mendel = np.select(
            [o == 0, o == 1],
            [(1 - t_sire) * (1 - t_dam), t_sire * (1 - t_dam) + (1 - t_sire) * t_dam],
            t_sire * t_dam)
        return (1 - epsilon) * mendel + epsilon * p_obs

    base = np.log10(likelihood(p))
    out = np.stack([np.log10(likelihood(c / 2.0)) - base for c in range(3)]).astype(np.float32)
    out[:, ~called] = 0.0
    return out


def lod_matrix(
    geno: GenotypeSet,
    offspring: np.ndarray,
    dams: np.ndarray,
    candidates: np.ndarray,
    *,
    epsilon: float = DEFAULT_EPSILON,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """LOD (offspring x candidates, float64) of each candidate as sire of each offspring.

    ``offspring``, ``dams`` and ``candidates`` are row positions in ``geno``; a dam of -1 is
    unknown (pair LOD). Allele frequencies are those of all animals in ``geno``.
    """
    n_snps = len(geno.snps)
    p = np.clip(np.nan_to_num(allele_frequencies(geno).p, nan=0.5), _FREQ_CLIP, 1 - _FREQ_CLIP)
    lod = np.zeros((offspring.size, candidates.size))
    cand_packed = geno.packed[candidates]
    total, done = n_snps * max(1, -(-offspring.size // _ROWS_PER_BLOCK)), 0
    for r0 in range(0, offspring.size, _ROWS_PER_BLOCK):
        rows = slice(r0, r0 + _ROWS_PER_BLOCK)
        off_packed = geno.packed[offspring[rows]]
        dam_rows = dams[rows]
        dam_packed = geno.packed[np.maximum(dam_rows, 0)]
        for j0 in range(0, n_snps, _BLOCK_SNPS):
            j1 = min(j0 + _BLOCK_SNPS, n_snps)
            o = unpack_snp_block(off_packed, n_snps, j0, j1)
            d = unpack_snp_block(dam_packed, n_snps, j0, j1)
            d[dam_rows < 0] = MISSING
            c = unpack_snp_block(cand_packed, n_snps, j0, j1)
            w = lod_weights(o, d, p[j0:j1], epsilon)
            lod[rows] += sum(w[g] @ (c == g).astype(np.float32).T for g in range(3))
            done += j1 - j0
            if progress:
                progress(done, total)
    return lod


def _rows(geno: GenotypeSet, ids: Sequence[str], what: str) -> np.ndarray:
    index = {str(a): i for i, a in enumerate(geno.samples)}
    missing = [a for a in ids if a not in index]
    if missing:
        raise ValueError(f"{len(missing)} {what} have no genotypes, e.g. {missing[:5]}")
    return np.array([index[a] for a in ids], dtype=np.int64)


def _eligible(offspring: Sequence[str], candidates: Sequence[str],
              birth_dates: Mapping[str, object] | None, min_age_days: int) -> np.ndarray:
    """Candidates that may be the sire: not the animal itself, and born at least
    ``min_age_days`` before it (an unknown birth date excludes nobody)."""
    ok = np.asarray(offspring, dtype=object)[:, None] != np.asarray(candidates, dtype=object)
    if birth_dates is not None:
        born = lambda ids: pd.to_datetime(  # noqa: E731
            pd.Series(list(ids), dtype=object).map(birth_dates), errors="coerce").to_numpy()
        gap = (born(offspring)[:, None] - born(candidates)[None, :]) / np.timedelta64(1, "D")
        ok &= np.isnan(gap) | (gap >= min_age_days)
    return ok


def _dam_rows(geno: GenotypeSet, offspring: np.ndarray, offspring_ids: Sequence[str],
              dams: Mapping[str, str | None] | None, max_rate: float, min_inf: int
              ) -> np.ndarray:
    """Row of each offspring's dam when she is genotyped and passes the opposing-homozygote
    check (a wrong dam would mislead the trio), else -1 (pair LOD)."""
    rows = np.full(offspring.size, -1, dtype=np.int64)
    if dams is None:
        return rows
    index = {str(a): i for i, a in enumerate(geno.samples)}
    for k, a in enumerate(offspring_ids):
        dam = dams.get(a)
        rows[k] = index.get(str(dam), -1) if dam is not None and not pd.isna(dam) else -1
    has = np.flatnonzero(rows >= 0)
    n_snps = len(geno.snps)
    for b0 in range(0, has.size, _ROWS_PER_BLOCK):
        blk = has[b0:b0 + _ROWS_PER_BLOCK]
        opp, inf = pair_counts(unpack(geno.packed[offspring[blk]], n_snps),
                               unpack(geno.packed[rows[blk]], n_snps))
        bad = (inf < min_inf) | (opp > max_rate * inf)
        rows[blk[bad]] = -1
    return rows


def discover_sires(
    geno: GenotypeSet,
    offspring: Sequence[str],
    candidates: Sequence[str],
    *,
    birth_dates: Mapping[str, object] | None,
    dams: Mapping[str, str | None] | None = None,
    epsilon: float = DEFAULT_EPSILON,
    min_lod: float = DEFAULT_MIN_LOD,
    min_delta: float = DEFAULT_MIN_DELTA,
    min_sire_age_days: int = DEFAULT_MIN_SIRE_AGE_DAYS,
    max_opposing_rate: float = 0.01,
    min_informative: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Name the sire of each offspring among genotyped candidate bulls by LOD score.

    Parameters
    ----------
    geno
        Packed genotypes of offspring, candidates and dams; its animals give the allele
        frequencies, so pass the population, not only the animals in question.
    offspring, candidates
        Sample IDs of ``geno``; candidates are the bulls that may be sires.
    birth_dates
        Birth date per animal; a candidate must be born ``min_sire_age_days`` before the
        offspring. Required (``None`` only knowingly): parent and offspring share an allele
        at every SNP either way, so without dates an animal's own son can outscore its sire
        (the benchmark shows it). Animals without a date are not restricted.
    dams
        Recorded dam per offspring; used (trio LOD) when genotyped and not excluded.
    epsilon
        Genotyping error rate of the likelihood model.
    min_lod, min_delta
        Name the best bull when his LOD >= ``min_lod`` and his lead on the second >= ``min_delta``.
    max_opposing_rate, min_informative
        The opposing-homozygote check (:func:`.parentage.verify_parents`) the named bull and
        a dam used for the trio must pass.
    progress
        Called with (SNPs done, SNPs total) while the LODs are computed.

    Returns
    -------
    DataFrame
        ``animal, sire`` (the named bull, or null), ``status`` (found / ambiguous / no sire
        found / undetermined: fewer than ``min_informative`` informative SNPs), ``lod`` and
        ``delta_lod`` of the best candidate (delta = his LOD when he is the only one),
        ``top_candidates`` ("ID LOD; ..." best first), ``n_candidates`` (eligible), ``trio``
        (the dam's genotype was used), ``n_informative`` and ``opposing_rate`` of the best.
    """
    check_thresholds(max_opposing_rate, min_informative)
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon}")
    if min_lod < 0 or min_delta < 0:
        raise ValueError(f"min_lod and min_delta must be >= 0, got {min_lod}, {min_delta}")
    if len(candidates) == 0:
        raise ValueError("no candidate sires given")
    offspring, candidates = [str(a) for a in offspring], [str(c) for c in candidates]
    off = _rows(geno, offspring, "offspring")
    cand = _rows(geno, candidates, "candidates")
    dam = _dam_rows(geno, off, offspring, dams, max_opposing_rate, min_informative)
    lod = lod_matrix(geno, off, dam, cand, epsilon=epsilon, progress=progress)
    eligible = _eligible(offspring, candidates, birth_dates, min_sire_age_days)
    lod[~eligible] = -np.inf
    return _decide(geno, off, cand, candidates, offspring, lod, dam >= 0, eligible.sum(axis=1),
                   min_lod=min_lod, min_delta=min_delta, max_rate=max_opposing_rate,
                   min_inf=min_informative)


def _decide(geno: GenotypeSet, off: np.ndarray, cand: np.ndarray, candidates: list[str],
            offspring: list[str], lod: np.ndarray, trio: np.ndarray, n_eligible: np.ndarray,
            *, min_lod: float, min_delta: float, max_rate: float, min_inf: int
            ) -> pd.DataFrame:
    rows = np.arange(off.size)
    k = min(_TOP_SHOWN, cand.size)
    top = np.argpartition(-lod, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(top, np.argsort(-lod[rows[:, None], top], axis=1), axis=1)
    best = top[:, 0]
    best_lod = lod[rows, best]
    second = lod[rows, top[:, 1]] if k > 1 else np.full(off.size, -np.inf)
    runner_up = np.isfinite(second)
    delta = best_lod - np.where(runner_up, second, 0.0)  # a lone candidate leads by his LOD
    n_snps = len(geno.snps)
    n_opp = np.zeros(off.size, dtype=np.int64)
    n_inf = np.zeros(off.size, dtype=np.int64)
    for b0 in range(0, off.size, _ROWS_PER_BLOCK):
        blk = slice(b0, b0 + _ROWS_PER_BLOCK)
        n_opp[blk], n_inf[blk] = pair_counts(unpack(geno.packed[off[blk]], n_snps),
                                             unpack(geno.packed[cand[best[blk]]], n_snps))
    rate = np.divide(n_opp, n_inf, out=np.full(off.size, np.nan), where=n_inf > 0)
    has = n_eligible > 0
    status = np.select(
        [~has, n_inf < min_inf, (best_lod < min_lod) | (rate > max_rate), delta < min_delta],
        [NO_SIRE, UNDETERMINED, NO_SIRE, AMBIGUOUS], default=FOUND)
    shown = [
        "; ".join(f"{candidates[j]} {lod[i, j]:.1f}" for j in top[i] if np.isfinite(lod[i, j]))
        for i in rows]
    return pd.DataFrame({
        "animal": offspring,
        "sire": [candidates[b] if s == FOUND else None for b, s in zip(best, status, strict=True)],
        "status": status,
        "lod": np.where(has, best_lod, np.nan),
        "delta_lod": np.where(has, delta, np.nan),
        "top_candidates": shown,
        "n_candidates": n_eligible,
        "trio": trio,
        "n_informative": np.where(has, n_inf, 0),
        "opposing_rate": np.where(has, rate, np.nan),
    })
