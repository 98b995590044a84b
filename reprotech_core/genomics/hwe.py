"""Hardy-Weinberg exact test, vectorised over SNPs.

The p-value is the one of Wigginton, Cutler & Abecasis (2005), "A note on exact tests of
Hardy-Weinberg equilibrium", Am. J. Hum. Genet. 76:887-893, as PLINK 2 ``--hardy`` reports
it: the probability, given the allele counts, of a heterozygote count at most as likely as the
observed one; with ``midp=True`` half the observed term is removed (Graffelman & Moreno 2013).

Instead of a Python loop per SNP, the het-count distribution (log-concave in the het count) is
evaluated only where it matters: per SNP, an interval of het counts that holds every count
whose probability is within ``exp(-37)`` of the observed one (a guess of 5 SDs, widened until
the log-probability at its ends is below that floor). Every dropped term is
below ``1e-16`` times a term that is kept, so the result equals the full sum to double
precision. Terms inside the window come from the recurrence
``P(h+2)/P(h) = 4 n_AA n_BB / ((h+1)(h+2))`` as cumulative products outward from the mode
(no log or exp per term). A SNP whose observed term is below ``exp(-700)`` times the mode's
has p < 1e-300 and is reported as 0.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_DROP_LOG = 37.0  # terms below exp(-37) x the observed one do not change a float64 sum
_UNDERFLOW_LOG = -700.0  # below this relative to the mode, exp() leaves float64's range
_TIE = 1e-7  # relative tolerance treating two near-equal probabilities as equal (as PLINK)
_CHUNK = 512  # SNPs per padded 2-D window block: a few MB, stays in cache
_LN2 = math.log(2.0)


def log_factorials(top: int) -> np.ndarray:
    """``ln k!`` for k = 0..top, each from :func:`math.lgamma` (to double precision, where a
    cumulative sum of logs would drift); the counts' arguments are whole numbers, so a table
    replaces SciPy's ``gammaln`` (and its 0.17 s import in the ``geno qc`` command)."""
    return np.fromiter((math.lgamma(k + 1.0) for k in range(top + 1)), dtype=np.float64,
                       count=top + 1)


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
    ln_fact = log_factorials(int(max(rare.max(), common.max() // 2)))

    def logf(k: np.ndarray, at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """log P(het index k) up to a constant, for the SNPs ``at``: with h hets, the
        homozygote counts are (rare - h) / 2 and (common - h) / 2, all whole numbers."""
        h = parity[at] + 2 * k
        return (
            h * _LN2
            - ln_fact[h]
            - ln_fact[(rare[at] - h) // 2]
            - ln_fact[(common[at] - h) // 2]
        )

    k_obs = (het - parity) // 2
    k_mode = _mode(rare, common, n, parity, k_max, logf)
    log_obs = logf(k_obs)
    floor = log_obs - _DROP_LOG
    # first guess: the observed distance from the mode or 5 binomial SDs of the het count,
    # enough for most SNPs (the exact need is 0.5-8.6 SDs); _outward widens the rest
    expected = rare * common / (2.0 * n)
    sd_k = np.sqrt(expected * np.maximum(1 - expected / n, 0.0)) / 2
    reach = np.maximum(np.abs(k_obs - k_mode), np.ceil(5 * sd_k)).astype(np.int64) + 2
    left = _outward(k_mode, reach.copy(), np.zeros_like(k_obs), logf, floor, step=-1)
    right = _outward(k_mode, reach, k_max, logf, floor, step=1)
    near = log_obs - logf(k_mode) >= _UNDERFLOW_LOG
    p[todo[~near]] = 0.0  # p < ~1e-300: below what float64 sums relative to the mode hold
    sel = (left[near], right[near], k_obs[near], k_mode[near], parity[near], rare[near],
           common[near])
    p[todo[near]] = _window_p(*sel, midp=midp, threads=threads)
    return p


def _mode(rare, common, n, parity, k_max, logf) -> np.ndarray:
    """Most likely het index: Wigginton's expected-value start, polished by one step."""
    mid = rare * common / (2.0 * n)
    k = np.clip(np.rint((mid - parity) / 2).astype(np.int64), 0, k_max)
    cands = np.stack([np.clip(k + d, 0, k_max) for d in (-1, 0, 1)])
    vals = np.stack([logf(c) for c in cands])
    return cands[np.argmax(vals, axis=0), np.arange(len(k))]


def _outward(k_mode, reach, limit, logf, floor, *, step: int) -> np.ndarray:
    """A het index beyond which (towards ``limit``) every log-probability is below ``floor``.

    Starts ``reach`` away from the mode and widens it by a quarter until the log-probability
    there is below ``floor`` or the support ends; log-concavity makes everything further out
    lower.
    """
    k = np.clip(k_mode + step * reach, *((limit, k_mode) if step < 0 else (k_mode, limit)))
    todo = np.flatnonzero((k != limit) & (logf(k) >= floor))
    while todo.size:
        reach[todo] += reach[todo] // 4 + 2
        lo, hi = (limit[todo], k_mode[todo]) if step < 0 else (k_mode[todo], limit[todo])
        k[todo] = np.clip(k_mode[todo] + step * reach[todo], lo, hi)
        todo = todo[(k[todo] != limit[todo]) & (logf(k[todo], todo) >= floor[todo])]
    return k


def _window_p(left, right, k_obs, k_mode, parity, rare, common, *, midp: bool,
              threads: int) -> np.ndarray:
    width = right - left + 1
    order = np.argsort(width, kind="stable")
    out = np.empty(len(left), dtype=np.float64)
    chunks = [order[c0 : c0 + _CHUNK] for c0 in range(0, len(order), _CHUNK)]

    def one(i: np.ndarray) -> np.ndarray:
        return _chunk_p(left[i], right[i], k_obs[i], k_mode[i], parity[i], rare[i], common[i],
                        midp=midp)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # NumPy releases the GIL
        for i, p in zip(chunks, pool.map(one, chunks), strict=True):
            out[i] = p
    return out


def _side_terms(k_mode, span, parity, rare, common, *, up):
    """Terms P(k_mode +- j) / P(k_mode) for j = 0..span (zero beyond), shape (c, max span + 1)."""
    w = int(span.max()) + 1
    j = np.arange(w, dtype=np.float64)
    h = np.empty((len(span), w))
    base = (parity + 2 * k_mode).astype(np.float64)
    if up:  # ratio of step j -> j+1 is r(h) at h = base + 2j
        np.add(base[:, None], 2.0 * j[None, :], out=h)
    else:   # ratio of step j -> j+1 is 1 / r(h') at h' = base - 2j - 2
        np.subtract(base[:, None], 2.0 * j[None, :] + 2.0, out=h)
    a = rare[:, None] - h
    a *= common[:, None] - h
    b = h + 1.0
    b *= h + 2.0
    if up:
        np.divide(a, b, out=a)
    else:
        np.divide(b, a, out=a)
    a[j[None, :] >= span[:, None]] = 0.0
    terms = h
    terms[:, 0] = 1.0
    np.cumprod(a[:, :-1], axis=1, out=terms[:, 1:])
    return terms

def _chunk_p(left, right, k_obs, k_mode, parity, rare, common, *, midp: bool) -> np.ndarray:
    """p-values of SNPs of similar window width, from terms relative to the mode."""
    up = _side_terms(k_mode, right - k_mode, parity, rare, common, up=True)
    down = _side_terms(k_mode, k_mode - left, parity, rare, common, up=False)
    rows = np.arange(len(left))
    obs = np.where(k_obs >= k_mode, up[rows, np.maximum(k_obs - k_mode, 0)],
                   down[rows, np.maximum(k_mode - k_obs, 0)])
    total = up.sum(axis=1) + down.sum(axis=1) - 1.0
    thr = (obs * (1 + _TIE))[:, None]
    tail = np.where(up <= thr, up, 0.0).sum(axis=1) + np.where(down <= thr, down, 0.0).sum(axis=1)
    tail -= np.where(1.0 <= thr[:, 0], 1.0, 0.0)  # the mode term is on both sides
    if midp:
        tail -= 0.5 * obs
    return np.minimum(tail / total, 1.0)
