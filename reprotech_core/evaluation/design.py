"""Fixed-effect designs of class factors, kept sparse and solved by absorbing the largest.

The records' fixed effects are class factors: the contemporary group (herd-year-season,
:mod:`.contemporary`), the herd, the birth year. A real herd of 100,000 animals has
thousands of groups; as a dense ``records x levels`` matrix that is GBs per trait, and
finding its dependent columns by a pivoted QR costs ``n p^2`` (hours). Here the design is

    X = [X1  X2]:  X1 = one column per level of the factor with the most levels (it spans the
                   intercept), X2 = the other factors' treatment-coded columns that X1 and the
                   others do not already span,

stored as a sparse matrix (one non-zero per factor and record). Everything the solvers need
from ``S = X'WX`` (W diagonal: record weights) comes from absorbing X1, the textbook step of
fixed-effect regressions (``X1'WX1`` is diagonal): with ``E = (X1'WX1)^-1 X1'WX2`` only the
``q x q`` Schur complement ``S_c = X2'WX2 - X2'WX1 E`` is dense, ``q`` the handful of
birth-year columns. Dependent columns of X2 are found by a pivoted Cholesky of the
unweighted ``S_c`` (LAPACK ``dpstrf``): a column is dropped when what the absorbed factor and
the kept columns leave of it is below ``RANK_TOL`` of the largest column's square norm.

The parametrisation (no separate intercept; the absorbed factor's levels each have their
effect) spans the same space as intercept-plus-treatment coding, so GEBVs, reliabilities and
REML estimates are the same; only the fixed effects' own labels differ.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.linalg import lapack

log = logging.getLogger(__name__)

RANK_TOL = 1e-10
"""Relative squared norm below which a column counts as spanned by the others: a 0/1 column
of 100,000 records has a square norm up to 1e5, so the cut is 1e-5, six orders above the
rounding of the Schur complement's sums and far below what one record not shared with the
others leaves (at least 1/2)."""


@dataclass(frozen=True)
class ClassDesign:
    """``X = [X1 X2]`` of one trait's records (rows in the records' order)."""

    group: np.ndarray  # level (0..n_groups-1) of the absorbed factor, per record
    group_names: list[str]  # "factor=level" per level, or ["intercept"] without factors
    other: sparse.csr_array  # X2, records x q
    other_names: list[str]

    @property
    def n_rows(self) -> int:
        return self.group.size

    @property
    def n_groups(self) -> int:
        return len(self.group_names)

    @property
    def n_columns(self) -> int:
        return self.n_groups + len(self.other_names)

    @property
    def names(self) -> list[str]:
        return self.group_names + self.other_names

    @cached_property
    def matrix(self) -> sparse.csr_array:
        """``X`` as a sparse matrix (``X @ b`` and ``X.T @ e`` for iterative solvers)."""
        ones = sparse.csr_array((np.ones(self.n_rows), (np.arange(self.n_rows), self.group)),
                                shape=(self.n_rows, self.n_groups))
        return sparse.hstack([ones, self.other], format="csr")

    def dense(self) -> np.ndarray:
        """``X`` as a dense float64 array, for the exact paths (a few thousand records)."""
        return self.matrix.toarray()

    def column_square_sums(self) -> np.ndarray:
        """``diag(X'X)``: records per level, then the other columns' counts."""
        return np.r_[np.bincount(self.group, minlength=self.n_groups),
                     np.asarray(self.other.multiply(self.other).sum(axis=0)).ravel()]

    def rows(self, start: int, stop: int) -> sparse.csr_array:
        """``X`` of records ``start:stop``."""
        return self.matrix[start:stop]

    def weighted(self, w: np.ndarray | None = None) -> WeightedDesign:
        """The algebra of ``S = X'WX`` with record weights ``w`` (all 1 when None)."""
        w = np.ones(self.n_rows) if w is None else np.asarray(w, np.float64)
        if w.shape != (self.n_rows,) or not np.all(w > 0):
            raise ValueError(f"need {self.n_rows} positive record weights")
        return WeightedDesign(self, w)

    def residuals(self, y: np.ndarray) -> np.ndarray:
        """``y`` less its least-squares fit on ``X``."""
        fit = self.weighted()
        return y - self.matrix @ fit.solve(self.matrix.T @ y)


class WeightedDesign:
    """``S = X'WX`` of a :class:`ClassDesign`, solved by absorbing X1 (``S`` is never formed:
    the level sums ``d1``, the sparse ``E`` and the ``q x q`` Schur complement)."""

    def __init__(self, design: ClassDesign, w: np.ndarray):
        self.design = design
        self.w = w
        self.d1, self.e, schur = _absorbed(design, w)
        self.chol = linalg.cho_factor(schur, lower=True) if schur.size else None

    def solve(self, k: np.ndarray) -> np.ndarray:
        """``S^-1 k`` for ``k`` of ``X'W``-products (``p`` or ``p x c``), by blocks:
        ``b2 = S_c^-1 (k2 - E'k1)``, ``b1 = d1^-1 k1 - E b2``."""
        g = self.design.n_groups
        k1, k2 = k[:g], k[g:]
        scale = self.d1 if k.ndim == 1 else self.d1[:, None]
        if self.chol is None:
            return k1 / scale
        b2 = linalg.cho_solve(self.chol, k2 - self.e.T @ k1)
        return np.concatenate([k1 / scale - self.e @ b2, b2])

    def leverages(self, start: int, stop: int) -> np.ndarray:
        """``x_i S^-1 x_i'`` of records ``start:stop``."""
        rows = np.arange(start, stop)
        return self.cross_leverages(rows, rows)

    def cross_leverages(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``x_a S^-1 x_b'`` of record pairs: ``[g_a = g_b] / d1[g_a] + u_a S_c^-1 u_b'`` with
        ``u = x2 - E[g]`` (a record's other columns less its level's weighted mean)."""
        ga, gb = self.design.group[a], self.design.group[b]
        out = np.where(ga == gb, 1.0 / self.d1[ga], 0.0)
        if self.chol is not None:
            ua = self.design.other[a].toarray() - self.e[ga].toarray()
            ub = self.design.other[b].toarray() - self.e[gb].toarray()
            out += np.einsum("ij,ji->i", ua, linalg.cho_solve(self.chol, ub.T))
        return out


def class_design(table: pd.DataFrame, *, factors: Sequence[str]) -> ClassDesign:
    """The design of ``factors`` present in ``table`` (absent ones were not recorded).

    The factor with the most levels is absorbed (:class:`ClassDesign`); the others are
    treatment-coded, and their columns that the absorbed factor and the other kept columns
    already span are dropped and logged (e.g. a herd nested in its contemporary groups, a
    birth year that is a group's), so ``X'V^-1 X`` is invertible.

    Raises
    ------
    ValueError
        A factor with a missing value.
    """
    present = [f for f in factors if f in table.columns]
    codes, levels = {}, {}
    for f in present:
        values = table[f]
        if values.isna().any():
            raise ValueError(f"fixed effect {f!r} is missing for {int(values.isna().sum())} "
                             "records")
        codes[f], uniques = pd.factorize(values.astype(str), sort=True)
        levels[f] = [str(u) for u in uniques]
    n = len(table)
    if not present:
        return ClassDesign(np.zeros(n, np.int64), ["intercept"], sparse.csr_array((n, 0)), [])
    absorbed = max(present, key=lambda f: len(levels[f]))
    group = codes[absorbed].astype(np.int64)
    group_names = [f"{absorbed}={v}" for v in levels[absorbed]]
    blocks, names = [], []
    for f in present:
        if f == absorbed or len(levels[f]) < 2:
            continue
        c = codes[f]
        rows = np.flatnonzero(c > 0)
        blocks.append(sparse.csr_array((np.ones(rows.size), (rows, c[rows] - 1)),
                                       shape=(n, len(levels[f]) - 1)))
        names += [f"{f}={v}" for v in levels[f][1:]]
    other = sparse.hstack(blocks, format="csr") if blocks else sparse.csr_array((n, 0))
    design = ClassDesign(group, group_names, other, names)
    keep = _independent_columns(design)
    if keep.size < len(names):
        dropped = [names[i] for i in np.setdiff1d(np.arange(len(names)), keep)]
        log.warning("gblup.confounded_fixed_effects_dropped", extra={"columns": dropped})
        design = ClassDesign(group, group_names, sparse.csr_array(other[:, keep]),
                             [names[i] for i in keep])
    return design


def _independent_columns(design: ClassDesign) -> np.ndarray:
    """Columns of X2 that X1 and the other kept columns do not span (sorted)."""
    q = len(design.other_names)
    if q == 0:
        return np.arange(0)
    schur = _absorbed(design, np.ones(design.n_rows))[2]
    top = float(np.max(np.diag(schur)))
    if top <= 0:
        return np.arange(0)
    _, piv, rank, info = lapack.dpstrf(schur, tol=RANK_TOL * top, lower=1)
    if info < 0:
        raise RuntimeError(f"dpstrf: argument {-info} is invalid (report a bug)")
    return np.sort(piv[:rank] - 1)


def _absorbed(design: ClassDesign, w: np.ndarray
              ) -> tuple[np.ndarray, sparse.csr_array, np.ndarray]:
    """X1 absorbed from ``S = X'WX``: the level sums ``d1``, ``E = d1^-1 X1'WX2`` (sparse,
    ``n_groups x q``) and the Schur complement ``X2'WX2 - X2'WX1 E`` (dense ``q x q``)."""
    x2 = design.other
    d1 = np.bincount(design.group, weights=w, minlength=design.n_groups)
    x1wx2 = _group_sums(design.group, design.n_groups, x2.multiply(w[:, None]).tocsr())
    e = sparse.csr_array(x1wx2.multiply(1.0 / d1[:, None]))
    schur = (x2.T @ x2.multiply(w[:, None])).toarray() - (x1wx2.T @ e).toarray()
    return d1, e, schur


def _group_sums(group: np.ndarray, n_groups: int, m: sparse.csr_array) -> sparse.csr_array:
    """``X1' m``: the rows of ``m`` summed by level (``n_groups x m.shape[1]``)."""
    one_hot = sparse.csr_array((np.ones(group.size), (group, np.arange(group.size))),
                               shape=(n_groups, group.size))
    return sparse.csr_array(one_hot @ m)
