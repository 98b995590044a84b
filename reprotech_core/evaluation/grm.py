"""Genomic relationship matrix (VanRaden 2008, method 1), blending with A, GCTA export.

VanRaden (2008) method 1: ``G = Z Z' / (2 sum_j p_j (1 - p_j))`` with ``Z = X - 2p``, where
``X`` holds B-allele dosages and ``p`` the B-allele frequencies. It puts G on the scale of the
pedigree relationship matrix A (mean diagonal ~ 1 + F) so GBLUP variances are comparable
with pedigree BLUP and the two matrices can be blended.

Missing calls: ``p_j`` is estimated from the non-missing calls of SNP ``j`` and a missing call
gets centred value 0, i.e. it is mean-imputed (dosage ``2 p_j``). This is what PLINK 2
``--make-rel cov meanimpute`` does, so the two agree after rescaling. SNPs with no calls carry
no information and are dropped (logged); monomorphic SNPs contribute zero to both numerator
and denominator and need no special case.

The BLAS path accumulates block-wise: a block of SNP columns is unpacked from the 2-bit store,
centred in float32 and added with one BLAS ``syrk`` (``C += Z_b Z_b'``), so peak memory is the
``n x n`` result plus one ``n x block`` slab, and the cost is the GEMM floor ``n^2 m`` flops.
Below that floor, the popcount path (:mod:`grm_kernel`, ``kernel="popcount"``/``"auto"``) counts
the 0/1/2 cross-products on bit planes of the 2-bit rows and applies centring and
missing-call corrections afterwards; the BLAS path stays the reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.linalg import blas

from reprotech_core.genomics.packing import MISSING, SNPS_PER_BYTE, packed_width, unpack
from reprotech_core.genomics.snpmap import GenotypeSet

log = logging.getLogger(__name__)

DEFAULT_BLOCK_SNPS = 4096
KERNELS = ("auto", "popcount", "blas")
POPCOUNT_MAX_MISSING = 0.02
"""Above this share of missing calls ``kernel="auto"`` uses BLAS: the popcount kernel's
missing-call corrections cost ``n x (missing calls)`` and overtake the saving."""


@dataclass(frozen=True)
class AlleleFrequencies:
    """B-allele frequency and number of non-missing calls per SNP."""

    p: np.ndarray  # float64, (m,), NaN where a SNP has no calls
    n_called: np.ndarray  # int64, (m,)


def _check_animals(geno: GenotypeSet) -> None:
    """Frequencies and relationships need a population: at least two animals."""
    if len(geno.samples) < 2:
        raise ValueError(f"need at least 2 animals, got {len(geno.samples)}")


def _snp_blocks(n_snps: int, block_snps: int) -> list[tuple[int, int]]:
    if block_snps < SNPS_PER_BYTE or block_snps % SNPS_PER_BYTE:
        raise ValueError(f"block_snps must be a positive multiple of 4, got {block_snps}")
    return [(j, min(j + block_snps, n_snps)) for j in range(0, n_snps, block_snps)]


def unpack_snp_block(packed: np.ndarray, n_snps: int, start: int, stop: int) -> np.ndarray:
    """Dosages (int8, MISSING = -1) of SNPs ``start:stop``; ``start`` must be a multiple of 4."""
    b0, b1 = start // SNPS_PER_BYTE, packed_width(stop)
    return unpack(packed[:, b0:b1], (b1 - b0) * SNPS_PER_BYTE)[:, : stop - start]


def _byte_tables() -> tuple[np.ndarray, np.ndarray]:
    """(B-allele count, called flag) of each of the 4 SNPs in every byte value (256 x 4)."""
    codes = (np.arange(256)[:, None] >> (2 * np.arange(SNPS_PER_BYTE))[None, :]) & 3
    called = codes != 3
    return np.where(called, codes, 0).astype(np.float64), called.astype(np.float64)


_BYTE_DOSAGE, _BYTE_CALLED = _byte_tables()


def allele_frequencies(
    geno: GenotypeSet, *, block_snps: int = DEFAULT_BLOCK_SNPS
) -> AlleleFrequencies:
    """B-allele frequencies from non-missing calls, computed block-wise from packed genotypes.

    Counts byte values per packed column (one ``bincount`` pass, no unpacking) and maps the
    256-value histogram to allele and call counts of the byte's four SNPs.
    """
    _check_animals(geno)
    packed, n_snps = geno.packed, len(geno.snps)
    width = packed.shape[1]
    total = np.empty(width * SNPS_PER_BYTE)
    called = np.empty(width * SNPS_PER_BYTE)
    step = max(block_snps // SNPS_PER_BYTE, 1)
    for c0 in range(0, width, step):
        c1 = min(c0 + step, width)
        offsets = 256 * np.arange(c1 - c0, dtype=np.intp)
        hist = np.bincount((packed[:, c0:c1] + offsets).ravel(), minlength=256 * (c1 - c0))
        hist = hist.reshape(c1 - c0, 256).astype(np.float64)
        total[c0 * 4:c1 * 4] = (hist @ _BYTE_DOSAGE).ravel()
        called[c0 * 4:c1 * 4] = (hist @ _BYTE_CALLED).ravel()
    total, n_called = total[:n_snps], called[:n_snps].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_called > 0, total / (2.0 * n_called), np.nan)
    return AlleleFrequencies(p=p, n_called=n_called)


def centred_block(dosages: np.ndarray, p: np.ndarray, *, dtype: type = np.float32) -> np.ndarray:
    """``Z = X - 2p`` with missing calls set to 0 (mean imputation), in ``dtype``."""
    z = dosages.astype(dtype)
    z -= (2.0 * p).astype(dtype)
    z[dosages == MISSING] = 0
    return z


@dataclass(frozen=True)
class GRM:
    """A genomic relationship matrix with what produced it.

    ``matrix`` is symmetric ``n x n``; ``n_snps_used`` counts SNPs with at least one call;
    ``n_nonmissing`` is the per-pair count of SNPs called in both animals (GCTA's ``.grm.N.bin``).
    """

    matrix: np.ndarray
    p: np.ndarray
    scale: float  # 2 * sum p (1 - p)
    n_snps_used: int
    n_nonmissing: np.ndarray | None = None


def vanraden_grm(
    geno: GenotypeSet,
    *,
    block_snps: int = DEFAULT_BLOCK_SNPS,
    dtype: type = np.float32,
    count_nonmissing: bool = False,
    min_snps: int = 50,
    kernel: str = "auto",
) -> GRM:
    """VanRaden (2008) method 1 GRM from 2-bit packed genotypes, block-wise.

    Parameters
    ----------
    geno
        Packed genotypes of the animals, in the order of the matrix's rows.
    block_snps
        SNP columns unpacked per step (multiple of 4); bounds the working memory to
        ``n_animals * block_snps * itemsize`` on top of the result.
    dtype
        ``np.float32`` (default: the float32 GEMM rate is ~2x float64 and the relative rounding,
        ~1e-6, is far below the sampling error of any relationship) or ``np.float64``.
    count_nonmissing
        Also count, per pair, the SNPs called in both animals (for GCTA's ``.grm.N.bin``);
        costs a second GEMM, so off by default.
    min_snps
        Fewest polymorphic SNPs with calls accepted: relationships from a handful of SNPs are
        mostly sampling noise (a 50k panel gives ~40k polymorphic SNPs in cattle).
    kernel
        ``"blas"``: float SYRK on unpacked blocks (the reference); ``"popcount"``: integer
        bit-plane cross-products on the 2-bit rows with the centring and missing-call
        corrections applied afterwards (:mod:`reprotech_core.evaluation.grm_kernel`), equal
        to the BLAS result to rounding; ``"auto"``: popcount when at most
        :data:`POPCOUNT_MAX_MISSING` of the calls are missing (its corrections grow with the
        missing calls) and ``count_nonmissing`` is off, BLAS otherwise.

    Returns
    -------
    GRM
        ``matrix = Z Z' / (2 sum p(1-p))`` with mean-imputed missing calls (see module docs).

    Raises
    ------
    ValueError
        Fewer than 2 animals, no polymorphic SNP with calls, fewer than ``min_snps`` of
        them, an unknown ``kernel``, or ``kernel="popcount"`` with ``count_nonmissing``.
    """
    _check_animals(geno)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "popcount" and count_nonmissing:
        raise ValueError("kernel='popcount' does not count per-pair SNPs (count_nonmissing); "
                         "use kernel='blas'")
    packed, n_snps = geno.packed, len(geno.snps)
    blocks = _snp_blocks(n_snps, block_snps)
    freqs = allele_frequencies(geno, block_snps=block_snps)
    uncalled = np.isnan(freqs.p)
    if uncalled.any():
        log.warning("grm.all_missing_snps_dropped", extra={"n_snps": int(uncalled.sum())})
    p = np.where(uncalled, 0.0, freqs.p)  # centred value of an all-missing SNP is 0 throughout
    scale = float(2.0 * np.sum(p * (1.0 - p)))
    if scale <= 0.0:
        raise ValueError("no polymorphic SNP with calls: the GRM is undefined (2 sum pq = 0)")
    n_poly = int(np.sum((p > 0.0) & (p < 1.0)))
    if n_poly < min_snps:
        raise ValueError(f"only {n_poly} polymorphic SNPs with calls; the GRM needs at least "
                         f"{min_snps} (min_snps)")
    n = packed.shape[0]
    if _use_popcount(kernel, freqs, n, count_nonmissing):
        from reprotech_core.evaluation.grm_kernel import popcount_grm  # numba: import on use

        matrix = popcount_grm(packed, n_snps, p, scale, dtype=dtype)
        log.info("grm.kernel", extra={"kernel": "popcount", "n_animals": n, "n_snps": n_snps})
        return GRM(matrix=matrix, p=freqs.p, scale=scale, n_snps_used=int((~uncalled).sum()))
    syrk = blas.ssyrk if dtype == np.float32 else blas.dsyrk
    acc = np.zeros((n, n), dtype=dtype, order="F")
    counts = np.zeros((n, n), dtype=np.float64, order="F") if count_nonmissing else None
    for j0, j1 in blocks:
        d = unpack_snp_block(packed, n_snps, j0, j1)
        z = centred_block(d, p[j0:j1], dtype=dtype)
        # z.T is Fortran-ordered (block x n): trans=1 gives z z' without a copy; C is updated
        # in place (lower triangle of the Fortran array).
        acc = syrk(1.0, z.T, beta=1.0, c=acc, trans=1, lower=1, overwrite_c=1)
        if counts is not None:
            called = (d != MISSING).astype(dtype)
            counts += syrk(1.0, called.T, trans=1, lower=1)
    matrix = _symmetrize_lower(acc)
    matrix /= dtype(scale)
    nonmissing = _symmetrize_lower(counts) if counts is not None else None
    return GRM(matrix=matrix, p=freqs.p, scale=scale, n_snps_used=int((~uncalled).sum()),
               n_nonmissing=nonmissing)


def missing_fraction(freqs: AlleleFrequencies, n_animals: int) -> float:
    """Share of missing calls over all animals and SNPs."""
    total = n_animals * len(freqs.n_called)
    return 1.0 - float(freqs.n_called.sum()) / total if total else 0.0


def _use_popcount(kernel: str, freqs: AlleleFrequencies, n: int, count_nonmissing: bool) -> bool:
    if kernel != "auto":
        return kernel == "popcount"
    return not count_nonmissing and missing_fraction(freqs, n) <= POPCOUNT_MAX_MISSING


def _symmetrize_lower(c: np.ndarray) -> np.ndarray:
    """Complete a matrix whose lower triangle (Fortran order) holds the values; C-ordered."""
    lower = np.tril(c)
    lower += np.tril(c, -1).T
    return np.ascontiguousarray(lower)


def blend_with_pedigree(g: np.ndarray, a: np.ndarray, *, weight: float) -> np.ndarray:
    """``G_w = (1 - w) G + w A`` (VanRaden 2008; Aguilar et al. 2010).

    Blending makes G positive definite (A is) and shrinks G's sampling noise toward the
    pedigree expectation; ``weight`` of 0.05 is common. Rows/columns must be the same animals.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight}")
    if g.shape != a.shape or g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"G {g.shape} and A {a.shape} must be square and the same shape")
    return (1.0 - weight) * g + weight * a


def write_gcta_grm(
    prefix: str | Path,
    grm: np.ndarray,
    ids: list[tuple[str, str]],
    *,
    n_nonmissing: np.ndarray | float,
) -> list[Path]:
    """Write GCTA binary GRM files ``prefix.grm.bin``, ``prefix.grm.N.bin``, ``prefix.grm.id``.

    GCTA's layout: the lower triangle including the diagonal, row by row
    (``(0,0), (1,0), (1,1), (2,0) ...``) as little-endian float32; ``.grm.N.bin`` the same
    layout with the number of SNPs behind each entry (a scalar is written everywhere);
    ``.grm.id`` has tab-separated family and individual IDs. Returns the paths written.
    """
    g = np.asarray(grm)
    n = g.shape[0]
    if g.shape != (n, n):
        raise ValueError(f"GRM must be square, got {g.shape}")
    if len(ids) != n:
        raise ValueError(f"{len(ids)} IDs for a {n} x {n} GRM")
    for fid, iid in ids:
        if any(c in f"{fid}{iid}" for c in "\t\n ") or not fid or not iid:
            raise ValueError(f"ID ({fid!r}, {iid!r}) is empty or contains whitespace")
    rows, cols = np.tril_indices(n)  # row-major order of the lower triangle
    prefix = Path(prefix)
    paths = [prefix.with_name(prefix.name + s) for s in (".grm.bin", ".grm.N.bin", ".grm.id")]
    g[rows, cols].astype("<f4").tofile(paths[0])
    counts = np.broadcast_to(np.asarray(n_nonmissing, dtype=np.float64), (n, n))
    counts[rows, cols].astype("<f4").tofile(paths[1])
    paths[2].write_text("".join(f"{fid}\t{iid}\n" for fid, iid in ids))
    return paths


def read_gcta_grm(prefix: str | Path) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Read GCTA binary GRM files back: (GRM, per-pair SNP counts, IDs), both matrices float32."""
    prefix = Path(prefix)
    ids = [tuple(line.split("\t")) for line in
           prefix.with_name(prefix.name + ".grm.id").read_text().splitlines()]
    n = len(ids)
    out = []
    for suffix in (".grm.bin", ".grm.N.bin"):
        tri = np.fromfile(prefix.with_name(prefix.name + suffix), dtype="<f4")
        if tri.size != n * (n + 1) // 2:
            raise ValueError(f"{prefix}{suffix}: {tri.size} values, expected {n * (n + 1) // 2}")
        m = np.zeros((n, n), dtype=np.float32)
        m[np.tril_indices(n)] = tri
        out.append(m + np.tril(m, -1).T)
    return out[0], out[1], ids  # type: ignore[return-value]
