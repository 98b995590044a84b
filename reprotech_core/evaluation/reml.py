"""REML variance components for the animal model by spectral decomposition of G.

Model: ``y = X b + u + e`` on the phenotyped animals, ``u ~ N(0, G s_u^2)``,
``e ~ N(0, I s_e^2)``. With ``G = U diag(d) U'`` (one eigendecomposition, O(n^3)), the
rotated data ``U'y, U'X`` have diagonal covariance ``s^2 (h2 d + 1 - h2)``, so each REML
likelihood evaluation is O(n p^2) (Patterson & Thompson 1971; Kang et al. 2008, EMMA;
Lippert et al. 2011, FaST-LMM). The total variance ``s^2`` is profiled out in closed form and
h2 is found by a grid search followed by bounded Brent refinement, which does not get stuck
at a local optimum on flat likelihoods the way a single Newton/AI step can.

Standard errors come from the inverse of the expected (Fisher) information of
``(s_u^2, s_e^2)``, ``I_ij = 1/2 tr(P V_i P V_j)``, evaluated in the rotated basis in
O(n p^2), and the delta method for ``h2 = s_u^2 / (s_u^2 + s_e^2)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

log = logging.getLogger(__name__)

H2_BOUNDS = (1e-4, 1 - 1e-4)


@dataclass(frozen=True)
class Spectral:
    """Eigendecomposition ``G = vectors diag(values) vectors'`` (values clipped at 0)."""

    values: np.ndarray
    vectors: np.ndarray


@dataclass(frozen=True)
class VarianceComponents:
    """REML (or given) variance components; ``se_h2`` is NaN when they were given."""

    sigma_u2: float
    sigma_e2: float
    h2: float
    se_h2: float
    loglik: float
    at_boundary: bool = False


def spectral_decomposition(g: np.ndarray, *, negative_tol: float = 1e-4) -> Spectral:
    """Eigendecomposition of a relationship matrix, in float64.

    A GRM is PSD in exact arithmetic; float32 accumulation can leave eigenvalues slightly
    below zero (the centred GRM is singular, and float32 rounding of n x n entries moves
    eigenvalues by up to ~sqrt(n) eps32 |G|). Those within ``negative_tol * max eigenvalue``
    are set to 0 (logged). A more
    negative eigenvalue means the matrix is not a relationship matrix (e.g. a blend with the
    wrong A, or rows in different order): ValueError, rather than a fit on garbage.
    """
    g = np.asarray(g)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"relationship matrix must be square, got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("relationship matrix has NaN or infinite entries")
    values, vectors = linalg.eigh(g.astype(np.float64), driver="evd", check_finite=False)
    top = max(values[-1], 1e-300)
    if values[0] < -negative_tol * top:
        raise ValueError(
            f"relationship matrix is not positive semi-definite: smallest eigenvalue "
            f"{values[0]:.3g} (largest {top:.3g}); check animal order or the blend"
        )
    n_neg = int((values < 0).sum())
    if n_neg:
        log.info("reml.negative_eigenvalues_clipped", extra={"n": n_neg, "min": float(values[0])})
        values = np.maximum(values, 0.0)
    return Spectral(values=values, vectors=vectors)


@dataclass(frozen=True)
class Rotated:
    """Data rotated into G's eigenbasis: ``U'y``, ``U'X`` and the eigenvalues."""

    y: np.ndarray
    x: np.ndarray
    d: np.ndarray

    @classmethod
    def from_data(cls, y: np.ndarray, x: np.ndarray, spectral: Spectral) -> "Rotated":
        u = spectral.vectors
        return cls(y=u.T @ y, x=u.T @ x, d=spectral.values)


def _gls(rot: Rotated, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GLS fixed effects with covariance diag(lam): (b, residual, (X' L^-1 X)^-1 cholesky)."""
    w = 1.0 / lam
    xtwx = rot.x.T @ (rot.x * w[:, None])
    chol = linalg.cho_factor(xtwx, lower=True)
    b = linalg.cho_solve(chol, rot.x.T @ (w * rot.y))
    return b, rot.y - rot.x @ b, chol[0]


def profile_loglik(h2: float, rot: Rotated) -> tuple[float, float]:
    """REML log-likelihood maximised over s^2 at fixed h2: (loglik, s^2_hat)."""
    n, p = rot.x.shape
    lam = h2 * rot.d + (1.0 - h2)
    _, r, chol = _gls(rot, lam)
    s2 = float(np.sum(r * r / lam)) / (n - p)
    logdet_xtx = 2.0 * np.sum(np.log(np.diag(chol)))
    ll = -0.5 * ((n - p) * (np.log(2 * np.pi * s2) + 1.0) + np.sum(np.log(lam)) + logdet_xtx)
    return float(ll), s2


def fisher_information(rot: Rotated, sigma_u2: float, sigma_e2: float) -> np.ndarray:
    """Expected information of (s_u^2, s_e^2): ``1/2 tr(P V_i P V_j)`` with V_u = D, V_e = I."""
    lam = sigma_u2 * rot.d + sigma_e2
    c = linalg.inv(rot.x.T @ (rot.x / lam[:, None]))
    mats = (rot.d, np.ones_like(rot.d))

    def xdx(v: np.ndarray) -> np.ndarray:
        return rot.x.T @ (rot.x * v[:, None])

    info = np.empty((2, 2))
    for i, a in enumerate(mats):
        for j, bm in enumerate(mats):
            t1 = np.sum(a * bm / lam**2)
            t2 = np.trace(c @ xdx(a * bm / lam**3))
            t3 = np.trace(c @ xdx(a / lam**2) @ c @ xdx(bm / lam**2))
            info[i, j] = 0.5 * (t1 - 2.0 * t2 + t3)
    return info


def reml(y: np.ndarray, x: np.ndarray, spectral: Spectral, *, grid: int = 41) -> VarianceComponents:
    """REML estimates of s_u^2, s_e^2 and h2 with the standard error of h2.

    Parameters
    ----------
    y
        Phenotypes of the animals in ``spectral``'s order (no missing values).
    x
        Full-column-rank fixed-effect design (``n x p``), e.g. the dense form of
        :func:`reprotech_core.evaluation.design.class_design`.
    spectral
        :func:`spectral_decomposition` of G restricted to the phenotyped animals.
    grid
        Points of the initial h2 grid on (0, 1).

    Raises
    ------
    ValueError
        Shapes disagree, fewer than ``p + 3`` records, or the phenotypes have no variance
        after fixed effects.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n = y.shape[0]
    if x.shape[0] != n or spectral.vectors.shape[0] != n:
        raise ValueError(f"y ({n}), X ({x.shape[0]}) and G ({spectral.vectors.shape[0]}) "
                         "must have the same animals")
    if n < x.shape[1] + 3:
        raise ValueError(f"too few records for REML: {n} records, {x.shape[1]} fixed effects")
    if not np.all(np.isfinite(y)):
        raise ValueError("phenotypes contain NaN or infinite values")
    rot = Rotated.from_data(y, x, spectral)
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    if np.var(resid) <= 1e-12 * max(1.0, np.var(y)):
        raise ValueError("phenotypes have no variance after fixed effects: nothing to estimate")
    lo, hi = H2_BOUNDS
    hs = np.linspace(lo, hi, grid)
    lls = [profile_loglik(h, rot)[0] for h in hs]
    k = int(np.argmax(lls))
    bracket = (hs[max(k - 1, 0)], hs[min(k + 1, grid - 1)])
    opt = optimize.minimize_scalar(lambda h: -profile_loglik(h, rot)[0], bounds=bracket,
                                   method="bounded", options={"xatol": 1e-7})
    h2 = float(opt.x) if -opt.fun >= lls[k] else float(hs[k])
    ll, s2 = profile_loglik(h2, rot)
    su, se = h2 * s2, (1.0 - h2) * s2
    at_boundary = h2 <= lo + 1e-3 or h2 >= hi - 1e-3
    if at_boundary:
        log.warning("reml.h2_at_boundary", extra={"h2": h2})
    se_h2 = _se_h2(rot, su, se)
    return VarianceComponents(sigma_u2=su, sigma_e2=se, h2=h2, se_h2=se_h2, loglik=ll,
                              at_boundary=at_boundary)


def _se_h2(rot: Rotated, su: float, se: float) -> float:
    """Delta-method SE of h2 from the inverse Fisher information."""
    try:
        cov = linalg.inv(fisher_information(rot, su, se))
    except linalg.LinAlgError:
        log.warning("reml.information_singular")
        return float("nan")
    s = su + se
    grad = np.array([se / s**2, -su / s**2])
    return float(np.sqrt(max(grad @ cov @ grad, 0.0)))
