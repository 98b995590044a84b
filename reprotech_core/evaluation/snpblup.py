"""SNP-BLUP: marker effects by preconditioned conjugate gradient over packed genotypes.

Model ``y = X b + Z a + e`` with ``Z`` the centred genotypes (``x - 2p``, missing -> 0, the
same centring as :mod:`.grm`) and ``a ~ N(0, I s_a^2)``, ``s_a^2 = s_u^2 / (2 sum pq)``.
Then ``Var(Z a) = G s_u^2`` with VanRaden's G, so ``Z a_hat`` equals the GBLUP GEBV for the same
variances (Stranden & Garrick 2009). The equations
``[[X'X, X'Z], [Z'X, Z'Z + lambda I]] [b; a] = [X'y; Z'y]`` (``lambda = s_e^2 / s_a^2``)
are solved by conjugate gradient with a Jacobi (diagonal) preconditioner; each iteration is one
pass over the recorded animals' genotypes (``t = X b + Z_blk a``, then ``Z_blk' t``), so the cost
is linear in animals and SNPs and memory is one block of unpacked rows. When the centred
matrix fits in ``cache_bytes`` it is kept in memory instead of being unpacked every iteration.

Stored effects predict newly genotyped animals (``Z_new a``) without a re-run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import unpack
from reprotech_core.genomics.snpmap import GenotypeSet

from .design import class_design
from .gblup import DEFAULT_FACTORS, check_records, given_variances, trait_records
from .grm import allele_frequencies, centred_block
from .reml import VarianceComponents

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnpEffects:
    """What is stored to predict new animals: frequencies used for centring and effects."""

    trait: str
    p: np.ndarray  # centring frequencies (0 for SNPs without calls; their effect is 0)
    effects: np.ndarray
    fixed: pd.Series
    variances: VarianceComponents
    iterations: int
    relative_residual: float


class _CentredRows:
    """Centred genotype rows of selected animals, streamed in blocks or cached."""

    def __init__(self, geno: GenotypeSet, rows: np.ndarray, p: np.ndarray, *,
                 dtype: type, block_animals: int, cache_bytes: int) -> None:
        self.packed, self.n_snps, self.rows, self.p = geno.packed, len(geno.snps), rows, p
        self.dtype, self.block = dtype, block_animals
        self.cache = None
        if rows.size * self.n_snps * np.dtype(dtype).itemsize <= cache_bytes:
            self.cache = np.concatenate([z for _, z in self._stream()]) if rows.size else None

    def _stream(self) -> Iterator[tuple[slice, np.ndarray]]:
        for i in range(0, self.rows.size, self.block):
            sl = slice(i, min(i + self.block, self.rows.size))
            d = unpack(self.packed[self.rows[sl]], self.n_snps)
            yield sl, centred_block(d, self.p, dtype=self.dtype)

    def blocks(self) -> Iterator[tuple[slice, np.ndarray]]:
        if self.cache is not None:
            yield slice(0, self.rows.size), self.cache
        else:
            yield from self._stream()


def snp_blup(
    geno: GenotypeSet,
    records: pd.DataFrame,
    *,
    trait: str,
    h2: float | None = None,
    variances: VarianceComponents | None = None,
    factors: Sequence[str] = DEFAULT_FACTORS,
    min_records: int = 20,
    tol: float = 1e-8,
    max_iter: int = 2000,
    dtype: type = np.float32,
    block_animals: int = 512,
    cache_bytes: int = 2 * 1024**3,
) -> tuple[SnpEffects, pd.DataFrame]:
    """Solve SNP-BLUP for one trait; return the effects and GEBVs of all animals of ``geno``.

    Parameters
    ----------
    geno
        Packed genotypes of all animals (sample IDs are the animal IDs of ``records``);
        allele frequencies for centring come from all of them, as in :func:`.grm.vanraden_grm`.
    records
        ``animal``, the ``trait`` column (NaN = no record) and optional fixed-effect columns.
    h2, variances
        Exactly one: a heritability (variances split from the residual phenotypic variance,
        as in GBLUP) or variance components, e.g. from a GBLUP/REML run.
    tol
        Stop when ``||r|| / ||rhs|| < tol``.
    dtype
        float32 (speed, GEBVs to ~1e-5) or float64 (to match GBLUP to 1e-6 and better).

    Raises
    ------
    ValueError
        Bad records (see GBLUP), both or neither of ``h2``/``variances``, h2 outside (0, 1),
        or no convergence within ``max_iter`` iterations.
    """
    if (h2 is None) == (variances is None):
        raise ValueError("give exactly one of h2 or variances")
    if h2 is not None and not 0.0 < h2 < 1.0:
        raise ValueError(f"heritability must be in (0, 1), got {h2}")
    ids = [str(a) for a in geno.samples]
    index = {a: i for i, a in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError("animal IDs are not unique")
    check_records(index, records)
    obs, rec = trait_records(index, records, trait, min_records=min_records)
    y = rec[trait].to_numpy(dtype=np.float64)
    design = class_design(rec, factors=factors)
    x, names = design.dense(), design.names
    vc = variances if variances is not None else given_variances(y, design, h2)
    freqs = allele_frequencies(geno)
    p = np.where(np.isnan(freqs.p), 0.0, freqs.p)
    scale = float(2.0 * np.sum(p * (1.0 - p)))
    if scale <= 0:
        raise ValueError("no polymorphic SNP with calls")
    lam = vc.sigma_e2 / (vc.sigma_u2 / scale)
    z_obs = _CentredRows(geno, obs, p, dtype=dtype, block_animals=block_animals,
                         cache_bytes=cache_bytes)
    sol, it, rel_res = _pcg(z_obs, x, y, lam, tol=tol, max_iter=max_iter, dtype=dtype)
    k = x.shape[1]
    effects = SnpEffects(trait=trait, p=p, effects=sol[k:], fixed=pd.Series(sol[:k], index=names),
                         variances=vc, iterations=it, relative_residual=rel_res)
    gebv = predict(geno, effects, block_animals=block_animals, dtype=dtype)
    has = np.zeros(len(ids), dtype=bool)
    has[obs] = True
    table = pd.DataFrame({"animal": ids, "trait": trait, "gebv": gebv, "has_record": has})
    return effects, table


def _pcg(z: _CentredRows, x: np.ndarray, y: np.ndarray, lam: float, *, tol: float,
         max_iter: int, dtype: type) -> tuple[np.ndarray, int, float]:
    """Jacobi-preconditioned CG on the SNP-BLUP equations (Hestenes & Stiefel 1952)."""
    k, m = x.shape[1], z.p.size

    def apply(v: np.ndarray) -> np.ndarray:
        out = np.empty(k + m)
        b, a = v[:k], v[k:].astype(dtype)
        acc = np.zeros(m, dtype=np.float64)
        t_all = np.empty(x.shape[0])
        for sl, zb in z.blocks():
            t = x[sl] @ b + zb @ a
            t_all[sl] = t
            acc += zb.T @ t.astype(dtype)
        out[:k] = x.T @ t_all
        out[k:] = acc + lam * v[k:]
        return out

    rhs = np.empty(k + m)
    rhs[:k] = x.T @ y
    diag = np.empty(k + m)
    diag[:k] = np.einsum("ij,ij->j", x, x)
    zty = np.zeros(m)
    zsq = np.zeros(m)
    for sl, zb in z.blocks():
        zty += zb.T @ y[sl].astype(dtype)
        zsq += np.einsum("ij,ij->j", zb, zb, dtype=np.float64)
    rhs[k:] = zty
    diag[k:] = zsq + lam
    sol = np.zeros(k + m)
    r = rhs.copy()
    s = r / diag
    d = s.copy()
    rs = r @ s
    norm_rhs = np.linalg.norm(rhs)
    for it in range(1, max_iter + 1):
        q = apply(d)
        alpha = rs / (d @ q)
        sol += alpha * d
        r -= alpha * q
        rel = float(np.linalg.norm(r) / norm_rhs)
        if rel < tol:
            log.info("snpblup.converged", extra={"iterations": it, "relative_residual": rel})
            return sol, it, rel
        s = r / diag
        rs_new = r @ s
        d = s + (rs_new / rs) * d
        rs = rs_new
    raise ValueError(f"SNP-BLUP did not converge in {max_iter} iterations "
                     f"(relative residual {rel:.2e}, tolerance {tol:.0e})")


def predict(
    geno: GenotypeSet,
    effects: SnpEffects,
    *,
    block_animals: int = 512,
    dtype: type = np.float32,
) -> np.ndarray:
    """Genomic breeding values ``Z a`` of (new) animals from stored SNP effects.

    Centring uses the stored frequencies so predictions are on the training base; a missing
    call contributes 0 (mean imputation).
    """
    n_snps, n = len(geno.snps), len(geno.samples)
    if effects.p.size != n_snps:
        raise ValueError(f"effects are for {effects.p.size} SNPs, genotypes have {n_snps}")
    rows = _CentredRows(geno, np.arange(n), effects.p, dtype=dtype,
                        block_animals=block_animals, cache_bytes=0)
    a = effects.effects.astype(dtype)
    out = np.empty(n)
    for sl, zb in rows.blocks():
        out[sl] = zb @ a
    return out
