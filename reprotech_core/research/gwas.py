"""Single-SNP association with a mixed model that accounts for relatedness (GWAS).

Model per SNP ``j``: ``y = X b + s_j beta_j + u + e`` with ``u ~ N(0, s_g^2 G)``,
``e ~ N(0, s_e^2 I)``, G the VanRaden (2008) GRM of the phenotyped animals.

Method ("P3D", population parameters previously determined: Zhang et al. 2010; EMMAX,
Kang et al. 2010; GRAMMAR-Gamma's idea of one null model): the variance components are
estimated once under the null model (no SNP) by the platform's REML
(:func:`reprotech_core.evaluation.reml.reml`) and held fixed for every SNP. With
``V = s_g^2 G + s_e^2 I = L L'`` (Cholesky), the data are whitened, ``y* = L^-1 y``,
``X* = L^-1 X``, ``S* = L^-1 S``, and each SNP is an ordinary regression on the whitened data
after projecting out ``X*``; this is exactly generalised least squares with covariance ``V``
(tests check it against ``numpy.linalg.solve`` per SNP). The test is a Wald t with
``n - p - 1`` degrees of freedom whose residual scale is re-estimated per SNP (as EMMAX);
without a GRM it is ordinary least squares, the same test as PLINK 2 ``--glm``.
SNPs are processed in blocks with one triangular solve (BLAS level 3) per block, in float32
by default (~1e-6 relative error in the statistics, far below their sampling error).

The approximation: the variance components do not change with the SNP. That holds when each
SNP explains a small share of the variance, as for the polygenic traits of cattle breeding;
a major gene's test is conservative.

LOCO (leave one chromosome out; Yang et al. 2014, Lippert et al. 2014): the SNP's own
chromosome is removed from G before whitening, ``G_-c = (k G - Z_c Z_c') / (k - k_c)`` with
``k = 2 sum p(1-p)``, so a QTL is not partly absorbed by the polygenic term (the test gains
power). The variance components stay those of the full-G null model.

Missing calls are mean-imputed (the animal gets the SNP's mean dosage among the phenotyped
animals); PLINK 2 drops the animal for that SNP instead, so the two agree when no call is
missing. A SNP with no variance among the phenotyped animals, or one that the fixed effects
explain completely, is reported with ``status`` ``zero_variance`` / ``collinear`` and NaN
statistics rather than failing the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, stats

from reprotech_core.evaluation.design import class_design
from reprotech_core.evaluation.grm import GRM, centred_block, unpack_snp_block
from reprotech_core.evaluation.reml import VarianceComponents, reml, spectral_decomposition
from reprotech_core.genomics.packing import MISSING

from .cohort import Cohort
from .provenance import Provenance, record

log = logging.getLogger(__name__)

DEFAULT_BLOCK_SNPS = 2048
CHI2_MEDIAN_1DF = float(stats.chi2.ppf(0.5, 1))


class TooFewRecords(ValueError):
    """A trait has too few phenotyped, genotyped animals for the model asked."""


@dataclass(frozen=True)
class GwasResult:
    """Per-SNP statistics, the genomic inflation factor, the null model and provenance."""

    trait: str
    table: pd.DataFrame  # snp, chrom, pos, allele, n, freq, beta, se, t, p, status
    lambda_gc: float
    n_records: int
    variances: VarianceComponents | None
    method: str
    provenance: Provenance


def genomic_inflation(p: np.ndarray) -> float:
    """lambda_GC: median 1-df chi-square of the p-values over its null median (Devlin &
    Roeder 1999). Near 1 for a well-calibrated test of a polygenic trait."""
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    return float(np.median(stats.chi2.isf(p, 1)) / CHI2_MEDIAN_1DF)


@dataclass(frozen=True)
class _Design:
    rows: np.ndarray  # cohort rows of the phenotyped animals
    y: np.ndarray
    x: np.ndarray
    names: list[str]


def _design(cohort: Cohort, records: pd.DataFrame, trait: str, factors: Sequence[str],
            covariates: Sequence[str], min_records: int) -> _Design:
    if "animal" not in records.columns or trait not in records.columns:
        raise ValueError(f"records need columns 'animal' and {trait!r}; "
                         f"got {list(records.columns)}")
    rec = records[records[trait].notna()]
    if rec["animal"].duplicated().any():
        raise ValueError(f"trait {trait!r}: animals with more than one record, e.g. "
                         f"{rec.loc[rec['animal'].duplicated(), 'animal'].iloc[0]!r}")
    pos = pd.Series(np.arange(cohort.n_animals), index=cohort.animals["animal"].astype(str))
    rec = rec.assign(_row=rec["animal"].astype(str).map(pos)).dropna(subset=["_row"])
    if len(rec) < min_records:
        raise TooFewRecords(f"trait {trait!r}: {len(rec)} genotyped animals with a record, "
                            f"need at least {min_records}")
    rec = rec.sort_values("_row")
    table = rec.merge(cohort.animals.drop(columns=[c for c in rec.columns
                                                  if c in cohort.animals and c != "animal"]),
                      on="animal", how="left")
    y = table[trait].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"trait {trait!r}: records contain infinite values")
    if np.var(y) == 0:
        raise ValueError(f"trait {trait!r}: all {len(y)} records are equal; nothing to test")
    design = class_design(table, factors=factors)
    x, names = design.dense(), design.names
    for c in covariates:
        if c not in table.columns or table[c].isna().any():
            raise ValueError(f"covariate {c!r} is missing for some records")
        x = np.column_stack([x, table[c].to_numpy(dtype=np.float64)])
        names.append(c)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"trait {trait!r}: covariates {names} are linearly dependent")
    if len(y) < x.shape[1] + 3:
        raise TooFewRecords(f"trait {trait!r}: {len(y)} records for {x.shape[1]} fixed effects")
    return _Design(rows=rec["_row"].to_numpy(np.int64), y=y, x=x, names=names)


class _Whitener:
    """Applies ``L^-1`` of ``V = s_g^2 G + s_e^2 I = L L'`` (identity without a GRM)."""

    def __init__(self, g: np.ndarray | None, vc: VarianceComponents | None, dtype: type):
        self.dtype = dtype
        self.chol = None
        if g is not None and vc is not None:
            v = (vc.sigma_u2 * g).astype(dtype)
            v[np.diag_indices_from(v)] += dtype(vc.sigma_e2)
            self.chol = linalg.cholesky(v, lower=True, overwrite_a=True, check_finite=False)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=self.dtype)
        if self.chol is None:
            return a
        return linalg.solve_triangular(self.chol, a, lower=True, check_finite=False)


def _snp_columns(packed_obs: np.ndarray, n_snps: int, cols: np.ndarray) -> np.ndarray:
    """int8 dosages of SNPs ``cols`` (sorted, contiguous in practice) of the given rows."""
    start = (int(cols[0]) // 4) * 4
    block = unpack_snp_block(packed_obs, n_snps, start, int(cols[-1]) + 1)
    return block[:, cols - start]


def _scan(packed_obs: np.ndarray, n_snps: int, cols: np.ndarray, design: _Design,
          whiten: _Whitener, block_snps: int) -> dict[str, np.ndarray]:
    """Statistics of SNPs ``cols`` under one whitening (one chromosome or all)."""
    xw = whiten(design.x).astype(np.float64)
    q, _ = np.linalg.qr(xw)
    yw = whiten(design.y[:, None]).astype(np.float64)[:, 0]
    ry = yw - q @ (q.T @ yw)
    yy = float(ry @ ry)
    n, p = design.x.shape
    df = n - p - 1
    qd = q.astype(whiten.dtype)
    out = {k: np.full(len(cols), np.nan) for k in ("n", "freq", "beta", "se", "t", "p")}
    status = np.full(len(cols), "ok", dtype=object)
    for b0 in range(0, len(cols), block_snps):
        sel = cols[b0:b0 + block_snps]
        d = _snp_columns(packed_obs, n_snps, sel)
        called = d != MISSING
        n_called = called.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = np.where(called, d, 0).sum(axis=0) / (2.0 * n_called)
        dmin = np.where(called, d, 3).min(axis=0)
        dmax = np.where(called, d, -1).max(axis=0)
        zero_var = (n_called == 0) | (dmin == dmax)
        s = centred_block(d, np.nan_to_num(freq), dtype=whiten.dtype)
        sw = whiten(s)
        total = np.einsum("ij,ij->j", sw, sw, dtype=np.float64)
        r = sw - qd @ (qd.T @ sw)
        ss = np.einsum("ij,ij->j", r, r, dtype=np.float64)
        sy = r.T.astype(np.float64) @ ry
        collinear = ~zero_var & (ss <= 1e-6 * total)
        bad = zero_var | collinear
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = sy / ss
            rss = np.maximum(yy - sy * beta, 0.0)
            se = np.sqrt(rss / df / ss)
            t = beta / se
        pv = 2.0 * stats.t.sf(np.abs(t), df)
        idx = slice(b0, b0 + len(sel))
        out["n"][idx], out["freq"][idx] = n_called, freq
        for k, v in (("beta", beta), ("se", se), ("t", t), ("p", pv)):
            out[k][idx] = np.where(bad, np.nan, v)
        status[idx] = np.where(zero_var, "zero_variance", np.where(collinear, "collinear", "ok"))
    out["status"] = status
    return out


def _loco_g(grm: GRM, packed_obs: np.ndarray, n_snps: int, cols: np.ndarray,
            g_oo: np.ndarray, dtype: type, block_snps: int) -> np.ndarray:
    """``G`` without the SNPs ``cols``: ``(k G - Z_c Z_c') / (k - k_c)``."""
    p = np.nan_to_num(grm.p)
    k_c = float(2.0 * np.sum(p[cols] * (1.0 - p[cols])))
    if grm.scale - k_c <= 0:
        raise ValueError("LOCO leaves no polymorphic SNP in G")
    acc = (grm.scale * g_oo).astype(dtype)
    for b0 in range(0, len(cols), block_snps):
        sel = cols[b0:b0 + block_snps]
        z = centred_block(_snp_columns(packed_obs, n_snps, sel), p[sel], dtype=dtype)
        acc -= z @ z.T
    acc /= dtype(grm.scale - k_c)
    return acc


def gwas(
    cohort: Cohort,
    records: pd.DataFrame,
    trait: str,
    *,
    grm: GRM | None = None,
    loco: bool = False,
    variances: VarianceComponents | None = None,
    factors: Sequence[str] = (),
    covariates: Sequence[str] = (),
    min_records: int = 30,
    block_snps: int = DEFAULT_BLOCK_SNPS,
    dtype: type = np.float32,
) -> GwasResult:
    """Test every SNP of ``cohort`` for association with ``trait`` (see module docs).

    Parameters
    ----------
    cohort
        Genotyped animals; records are matched by the ``animal`` pseudonym.
    records
        ``animal`` and a ``trait`` column (NaN = not recorded), plus any class ``factors``
        or numeric ``covariates`` not already columns of ``cohort.animals``.
    grm
        :func:`reprotech_core.evaluation.grm.vanraden_grm` of the cohort's animals (rows in
        cohort order). ``None`` fits no polygenic term (ordinary least squares, as PLINK 2
        ``--glm``).
    loco
        Leave the tested chromosome out of G (needs ``grm`` built from the cohort's own
        SNPs, so ``grm.p`` has one entry per SNP).
    variances
        Null-model variance components; estimated by REML when ``None`` (an ``n^3``
        eigendecomposition; pass them to reuse an earlier fit).
    factors, covariates
        Class fixed effects (e.g. ``herd``, ``birth_year``) and numeric covariates (e.g.
        principal components); an intercept is always fitted.
    min_records
        Fewer genotyped animals with a record raises :class:`TooFewRecords`.
    dtype
        ``np.float32`` (fast) or ``np.float64`` (exact to rounding; used by the tests).
    """
    cohort.require_genotypes("GWAS")
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    if loco and grm is None:
        raise ValueError("LOCO needs a GRM")
    design = _design(cohort, records, trait, factors, covariates, min_records)
    packed_obs = np.ascontiguousarray(cohort.packed[design.rows])
    g_oo = vc = None
    if grm is not None:
        if grm.matrix.shape != (cohort.n_animals, cohort.n_animals):
            raise ValueError(f"GRM {grm.matrix.shape} is not for the cohort's "
                             f"{cohort.n_animals} animals")
        if loco and len(grm.p) != cohort.n_snps:
            raise ValueError(f"LOCO needs the GRM of the cohort's own {cohort.n_snps} SNPs; "
                             f"this one was built from {len(grm.p)}")
        g_oo = grm.matrix[np.ix_(design.rows, design.rows)]
        vc = variances or reml(design.y, design.x, spectral_decomposition(g_oo))
    chrom = cohort.snps.chrom.astype(str)
    if loco:
        parts = [np.flatnonzero(chrom == c) for c in pd.unique(chrom)]
    else:
        parts = [np.arange(cohort.n_snps)]
    stats_parts = []
    for cols in parts:
        g_used = g_oo
        if loco:
            g_used = _loco_g(grm, packed_obs, cohort.n_snps, cols, g_oo, dtype, block_snps)
        whiten = _Whitener(g_used, vc, dtype)
        stats_parts.append((cols, _scan(packed_obs, cohort.n_snps, cols, design, whiten,
                                        block_snps)))
    order = np.concatenate([c for c, _ in stats_parts])
    merged = {k: np.concatenate([s[k] for _, s in stats_parts]) for k in stats_parts[0][1]}
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)
    s = cohort.snps
    table = pd.DataFrame({"snp": s.names, "chrom": s.chrom, "pos": s.pos, "allele": s.allele_b,
                          **{k: v[inv] for k, v in merged.items()}})
    table["n"] = table["n"].astype(np.int64)
    n_bad = int((table["status"] != "ok").sum())
    if n_bad:
        log.info("gwas.snps_not_tested", extra={"trait": trait, "n": n_bad})
    method = "ols" if grm is None else ("mlm-loco-p3d" if loco else "mlm-p3d")
    prov = record("gwas", snapshot=cohort.snapshot,
                  inputs={"cohort": cohort, "records": records[["animal", trait]],
                          "grm": None if grm is None else grm.matrix},
                  parameters={"trait": trait, "method": method, "factors": list(factors),
                              "covariates": list(covariates), "min_records": min_records,
                              "dtype": np.dtype(dtype).name,
                              "variances": None if vc is None else
                              {"sigma_g2": vc.sigma_u2, "sigma_e2": vc.sigma_e2, "h2": vc.h2}})
    return GwasResult(trait=trait, table=table, lambda_gc=genomic_inflation(table["p"]),
                      n_records=len(design.y), variances=vc, method=method, provenance=prov)
