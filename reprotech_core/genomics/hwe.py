"""Hardy-Weinberg exact test, vectorised over SNPs.

The p-value is the one of Wigginton, Cutler & Abecasis (2005), "A note on exact tests of
Hardy-Weinberg equilibrium", Am. J. Hum. Genet. 76:887-893, as PLINK 2 ``--hardy`` reports
it: the probability, given the allele counts, of a heterozygote count at most as likely as the
observed one; with ``midp=True`` half the observed term is removed (Graffelman & Moreno 2013).

Instead of a Python loop per SNP, the het-count distribution (log-concave in the het count) is
evaluated only where it matters: a vectorised bisection finds, per SNP, the interval of het
counts whose probability is within ``exp(-37)`` of the observed one. Every dropped term is
below ``1e-16`` times a term that is kept, so the result equals the full sum to double
precision. Terms inside the window come from the recurrence
``P(h+2)/P(h) = 4 n_AA n_BB / ((h+1)(h+2))`` in log space.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import gammaln

_DROP_LOG = 37.0  # terms below exp(-37) x the observed one do not change a float64 sum
_TIE = 1e-7  # relative tolerance treating two near-equal probabilities as equal (as PLINK)
_CHUNK = 512  # SNPs per padded 2-D window block: a few MB, stays in cache


def hwe_exact_p(
    het: np.ndarray,
    hom_a: np.ndarray,
    hom_b: np.ndarray,
    *,
    midp: bool = False,
    threads: int = 2,
) -> np.ndarray:
    """Exact HWE p-values for genotype counts (arrays of equal length).

    SNPs with no calls or a monomorphic sample get p = 1. ``threads`` chunks of SNPs are
    evaluated in parallel.
    """
    het = np.asarray(het, dtype=np.int64)
    hom_a = np.asarray(hom_a, dtype=np.int64)
    hom_b = np.asarray(hom_b, dtype=np.int64)
    n = het + hom_a + hom_b
    rare = np.minimum(2 * hom_a + het, 2 * hom_b + het)
    common = 2 * n - rare
    p = np.ones(len(n), dtype=np.float64)
    todo = np.flatnonzero(rare > 0)
    if todo.size == 0:
        return p
    rare, common, het, n = rare[todo], common[todo], het[todo], n[todo]
    parity = rare % 2
    k_max = (rare - parity) // 2

    def logf(k: np.ndarray) -> np.ndarray:
        h = parity + 2 * k
        return (
            h * np.log(2.0)
            - gammaln(h + 1.0)
            - gammaln((rare - h) / 2 + 1.0)
            - gammaln((common - h) / 2 + 1.0)
        )

    k_obs = (het - parity) // 2
    k_mode = _mode(rare, common, n, parity, k_max, logf)
    floor = logf(k_obs) - _DROP_LOG
    left = _bisect(np.zeros_like(k_obs), np.minimum(k_obs, k_mode), logf, floor, rising=True)
    right = _bisect(np.maximum(k_obs, k_mode), k_max, logf, floor, rising=False)
    p[todo] = _window_p(left, right, k_obs, parity, rare, common, midp=midp, threads=threads)
    return p


def _mode(rare, common, n, parity, k_max, logf) -> np.ndarray:
    """Most likely het index: Wigginton's expected-value start, polished by one step."""
    mid = rare * common / (2.0 * n)
    k = np.clip(np.rint((mid - parity) / 2).astype(np.int64), 0, k_max)
    cands = np.stack([np.clip(k + d, 0, k_max) for d in (-1, 0, 1)])
    vals = np.stack([logf(c) for c in cands])
    return cands[np.argmax(vals, axis=0), np.arange(len(k))]


def _bisect(lo, hi, logf, floor, *, rising: bool) -> np.ndarray:
    """Outermost het index in [lo, hi] whose log-probability is still >= ``floor``.

    With ``rising`` the function increases on [lo, hi] and we want the smallest such index;
    otherwise it decreases and we want the largest.
    """
    lo, hi = lo.copy(), hi.copy()
    while np.any(lo < hi):
        if rising:
            mid = (lo + hi) // 2
            ok = logf(mid) >= floor
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid + 1)
        else:
            mid = (lo + hi + 1) // 2
            ok = logf(mid) >= floor
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid - 1)
    return lo


def _window_p(left, right, k_obs, parity, rare, common, *, midp: bool, threads: int) -> np.ndarray:
    width = right - left + 1
    order = np.argsort(width, kind="stable")
    out = np.empty(len(left), dtype=np.float64)
    chunks = [order[c0 : c0 + _CHUNK] for c0 in range(0, len(order), _CHUNK)]

    def one(idx: np.ndarray) -> np.ndarray:
        return _chunk_p(left[idx], right[idx], k_obs[idx], parity[idx], rare[idx], common[idx],
                        midp=midp)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # NumPy releases the GIL
        for idx, p in zip(chunks, pool.map(one, chunks), strict=True):
            out[idx] = p
    return out


def _chunk_p(left, right, k_obs, parity, rare, common, *, midp: bool) -> np.ndarray:
    """p-values of SNPs of similar window width, as one padded 2-D array."""
    w = int((right - left).max()) + 1
    steps = np.arange(w, dtype=np.float64) * 2.0
    h = (parity + 2 * left).astype(np.float64)[:, None] + steps[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.log((rare[:, None] - h) * (common[:, None] - h) / ((h + 1.0) * (h + 2.0)))
    rel = h  # reuse the buffer: log P(h) - log P(left)
    rel[:, 0] = 0.0
    np.cumsum(step[:, :-1], axis=1, out=rel[:, 1:])
    rel[steps[None, :] > 2.0 * (right - left)[:, None]] = -np.inf
    rows = np.arange(len(left))
    obs = rel[rows, k_obs - left]
    top = rel.max(axis=1)
    np.subtract(rel, top[:, None], out=step)
    terms = np.exp(step, out=step)  # P(h) / P(mode)
    total = terms.sum(axis=1)
    tail = np.where(rel <= (obs + _TIE)[:, None], terms, 0.0).sum(axis=1)
    if midp:
        tail -= 0.5 * np.exp(obs - top)
    p = tail / total
    # Far tails underflow relative to the mode; there sum relative to the observed term.
    far = np.flatnonzero(obs - top < -600.0)
    if far.size:
        r = rel[far]
        t = np.where(r <= (obs[far] + _TIE)[:, None], np.exp(np.minimum(r - obs[far, None], 0.0)), 0.0).sum(axis=1)
        t -= 0.5 if midp else 0.0
        p[far] = t * np.exp(obs[far] - top[far]) / total[far]
    return np.minimum(p, 1.0)
