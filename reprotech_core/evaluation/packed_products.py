"""Products of the centred genotype matrix with a few vectors, straight from the 2-bit store.

SNP-BLUP by conjugate gradient (:mod:`.snpblup_multi`) needs ``Z A`` and ``Z' R`` each
iteration, with ``Z`` the centred genotypes (``x - 2p``, missing -> 0, as in :mod:`.grm`) of
up to 10^5-10^6 animals and ``A``/``R`` holding one column per trait. Unpacking ``Z`` to
floats every iteration costs 4-8 bytes per call of memory traffic; caching it costs
``N x M x 4`` bytes (24 GB at 100,000 x 60,000). Instead both products work on the packed
bytes, four SNPs at a time, through 256-entry tables (the byte-lookup idea of
e.g. BOLT-LMM's and PLINK 2's packed kernels):

* ``Z A``: for each byte column ``j`` a table ``T_j[v] = sum_q z(v, q, 4j+q) A[4j+q]`` of the
  256 possible bytes, so each animal adds one table row per byte (k traits: k additions for
  4 SNPs). Tables are built per block of byte columns so they stay in cache.
* ``Z' R``: per byte column the rows of ``R`` are summed by byte value (a 256-bin histogram),
  then ``res[4j+q] = sum_v z(v, q, 4j+q) H_j[v]``.

Memory is the packed genotypes (``N x M / 4`` bytes) plus the ``N x k`` and ``M x k``
operands; the cost per product is one read of the packed bytes and ``N x M / 4 x k``
additions. ``power=2`` uses ``z^2`` instead of ``z`` (diagonals: ``sum_i z_is^2``, G's
diagonal). Accumulation is float64.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

BYTE_BLOCK = 32  # byte columns (128 SNPs) per block: 32 x 256 x k float64 stay in L2
ROW_CHUNK = 2048  # animals per parallel chunk of Z A
_ONE_AT_A_TIME = threading.Lock()  # numba's workqueue layer: one parallel kernel at a time


@njit(cache=True, inline="always")
def _z(v, q, p_s, power):  # pragma: no cover - compiled
    code = (v >> (2 * q)) & 3
    if code == 3:
        return 0.0
    z = code - 2.0 * p_s
    return z * z if power == 2 else z


@njit(cache=True, parallel=True)
def _tables(p, a, power):  # pragma: no cover - compiled
    """``T[j, v] = sum_q z(v, q, 4j+q) a[4j+q]`` for every byte column and byte value."""
    m, k = p.size, a.shape[1]
    n_bytes = (m + 3) // 4
    table = np.zeros((k, n_bytes, 256))
    for j in prange(n_bytes):
        part = np.zeros((4, 4, k))  # (q, code): z(code) * a[4j+q]; code 3 (missing) stays 0
        for q in range(4):
            s = 4 * j + q
            if s < m:
                for code in range(3):
                    z = code - 2.0 * p[s]
                    if power == 2:
                        z = z * z
                    for t in range(k):
                        part[q, code, t] = z * a[s, t]
        for v in range(256):
            for t in range(k):
                table[t, j, v] = (part[0, v & 3, t] + part[1, (v >> 2) & 3, t]
                                  + part[2, (v >> 4) & 3, t] + part[3, (v >> 6) & 3, t])
    return table


@njit(cache=True, parallel=True)
def _z_times(packed, rows, table, out):  # pragma: no cover - compiled
    k, n_bytes = table.shape[0], table.shape[1]
    n_chunks = (rows.size + ROW_CHUNK - 1) // ROW_CHUNK
    for c in prange(n_chunks):
        i0, i1 = c * ROW_CHUNK, min((c + 1) * ROW_CHUNK, rows.size)
        acc = np.zeros((i1 - i0, k))
        for j0 in range(0, n_bytes, BYTE_BLOCK):
            j1 = min(j0 + BYTE_BLOCK, n_bytes)
            for i in range(i0, i1):
                row = packed[rows[i]]
                for t in range(k):
                    tab = table[t]
                    total = 0.0
                    for j in range(j0, j1):
                        total += tab[j, row[j]]
                    acc[i - i0, t] += total
        out[i0:i1] = acc


@njit(cache=True, parallel=True)
def _zt_times(packed, rows, p, r, power, out):  # pragma: no cover - compiled
    n_bytes, k, m = packed.shape[1], r.shape[1], p.size
    n_blocks = (n_bytes + BYTE_BLOCK - 1) // BYTE_BLOCK
    for b in prange(n_blocks):
        j0, j1 = b * BYTE_BLOCK, min((b + 1) * BYTE_BLOCK, n_bytes)
        hist = np.zeros((k, j1 - j0, 256))
        for i in range(rows.size):
            row = packed[rows[i]]
            for t in range(k):
                h = hist[t]
                rv = r[i, t]
                for j in range(j0, j1):
                    h[j - j0, row[j]] += rv
        for j in range(j0, j1):
            for q in range(4):
                s = 4 * j + q
                if s >= m:
                    continue
                for t in range(k):
                    out[s, t] = 0.0
                for v in range(256):
                    z = _z(v, q, p[s], power)
                    if z != 0.0:
                        for t in range(k):
                            out[s, t] += z * hist[t, j - j0, v]


def _check(packed: np.ndarray, rows: np.ndarray, p: np.ndarray) -> np.ndarray:
    if packed.dtype != np.uint8 or packed.ndim != 2:
        raise ValueError("packed genotypes must be a 2-D uint8 array")
    if p.size > 4 * packed.shape[1]:
        raise ValueError(f"{p.size} frequencies for {4 * packed.shape[1]} packed SNP slots")
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= packed.shape[0]):
        raise ValueError("row index outside the packed genotypes")
    return rows


def z_times(packed: np.ndarray, rows: np.ndarray, p: np.ndarray, a: np.ndarray, *,
            power: int = 1) -> np.ndarray:
    """``Z[rows] @ a`` (``len(rows) x k``) for centring frequencies ``p`` (``m``) and
    ``a`` (``m x k``); ``power=2``: ``(Z*Z)[rows] @ a``."""
    rows = _check(packed, rows, p)
    a2 = np.ascontiguousarray(a.reshape(p.size, -1), dtype=np.float64)
    out = np.empty((rows.size, a2.shape[1]))
    with _ONE_AT_A_TIME:
        _z_times(packed, rows, _tables(np.asarray(p, np.float64), a2, power), out)
    return out if a.ndim == 2 else out[:, 0]


def zt_times(packed: np.ndarray, rows: np.ndarray, p: np.ndarray, r: np.ndarray, *,
             power: int = 1) -> np.ndarray:
    """``Z[rows]' @ r`` (``m x k``) for ``r`` (``len(rows) x k``); ``power=2``: ``Z*Z``."""
    rows = _check(packed, rows, p)
    r2 = np.ascontiguousarray(r.reshape(rows.size, -1), dtype=np.float64)
    out = np.zeros((p.size, r2.shape[1]))
    with _ONE_AT_A_TIME:
        _zt_times(packed, rows, np.asarray(p, np.float64), r2, power, out)
    return out if r.ndim == 2 else out[:, 0]
