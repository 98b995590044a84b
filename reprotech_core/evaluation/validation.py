"""Forward validation of an evaluation by the linear-regression (LR) method.

Legarra & Reverter (2018), *Semi-parametric estimates of population accuracy and bias of
predictions of breeding values and future phenotypes using the LR method*, GSE 50:53.
The evaluation is run twice: on the whole data (``w``) and on partial data (``p``) from which
the phenotypes of the youngest cohort — the *validation* animals — are removed. For those
animals, with ``u_hat_w`` and ``u_hat_p`` their GEBVs from the two runs:

- bias ``Delta_p = mean(u_hat_p) - mean(u_hat_w)``; expected 0 (no bias). Reported also in
  genetic standard deviations, ``Delta_p / sigma_u``, which is what a threshold can judge
  independently of the trait's unit.
- dispersion ``b_{w,p} = cov(u_hat_w, u_hat_p) / var(u_hat_p)``, the slope of whole on
  partial; expected 1. Below 1 the partial GEBVs are over-dispersed (they overstate
  differences between young animals), above 1 under-dispersed.
- ratio of accuracies ``rho_{w,p} = cor(u_hat_w, u_hat_p)``; its expectation is
  ``acc_p / acc_w``: how much the validation animals' own records added.
- accuracy of the partial GEBVs: ``acc_p^2 = cov(u_hat_w, u_hat_p) / ((1 + F - 2 f) sigma_u^2)``
  where ``F`` is the validation animals' mean inbreeding and ``f`` their mean relationship.
  With a genomic relationship matrix ``G_vv`` of the validation animals, ``1 + F - 2 f`` is
  ``mean(diag G_vv) - mean(G_vv)`` — the expected variance of true breeding values *within*
  the validation set; this is the "population accuracy" of the paper. It needs ``sigma_u^2``
  and that spread (from ``G_vv``, or on the large-herd path from the genotypes without
  forming ``G_vv``), so it is given only when both are.

The statistics are unbiased only when the two runs use the same model and variance
components (the paper's assumption), so the partial run reuses the whole run's.
The validation cohort is chosen by :func:`validation_cohort`; the verdict on whether a run may
be released automatically is :func:`release_blockers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LRStatistics:
    """LR-method statistics of one trait over ``n`` validation animals (see the module)."""

    n: int
    bias: float  # Delta_p, trait units
    bias_sd: float | None  # Delta_p / sigma_u (None without sigma_u^2)
    dispersion: float  # b_{w,p}
    ratio_of_accuracies: float  # rho_{w,p}
    accuracy_partial: float | None  # acc_p (None without sigma_u^2 and G, or cov <= 0)

    def as_record(self) -> dict:
        """Rounded, JSON-ready (the run record keeps these)."""
        return {k: (None if v is None else round(float(v), 4) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def spread_of(g_vv: np.ndarray) -> float:
    """``1 + F - 2f`` of the validation animals from their genomic relationships:
    ``mean(diag G_vv) - mean(G_vv)``."""
    g_vv = np.asarray(g_vv, dtype=np.float64)
    if g_vv.ndim != 2 or g_vv.shape[0] != g_vv.shape[1]:
        raise ValueError(f"G of the validation animals must be square, got {g_vv.shape}")
    return float(np.mean(np.diag(g_vv)) - np.mean(g_vv))


def lr_statistics(whole: np.ndarray, partial: np.ndarray, *, sigma_u2: float | None = None,
                  spread: float | None = None) -> LRStatistics:
    """LR statistics (Legarra & Reverter 2018) for validation animals' GEBVs from the whole
    and the partial data, in the same animal order. ``sigma_u2`` (the additive genetic
    variance of the evaluation) gives the bias in genetic SDs; with ``spread`` (their
    ``1 + F - 2f``, :func:`spread_of` their G) too, the accuracy of the partial GEBVs.

    Raises ``ValueError`` for mismatched or non-finite vectors, fewer than 3 animals, or
    partial GEBVs without variance (the slope is then undefined)."""
    w = np.asarray(whole, dtype=np.float64)
    p = np.asarray(partial, dtype=np.float64)
    if w.shape != p.shape or w.ndim != 1:
        raise ValueError(f"whole and partial GEBVs must be vectors of one length, "
                         f"got {w.shape} and {p.shape}")
    if w.size < 3:
        raise ValueError(f"LR statistics need at least 3 validation animals, got {w.size}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(p))):
        raise ValueError("GEBVs must be finite")
    var_p, var_w = float(np.var(p, ddof=1)), float(np.var(w, ddof=1))
    if var_p <= 0 or var_w <= 0:
        raise ValueError("GEBVs of the validation animals have no variance: "
                         "dispersion and correlation undefined")
    cov = float(np.cov(w, p, ddof=1)[0, 1])
    bias = float(p.mean() - w.mean())
    bias_sd = accuracy = None
    if sigma_u2 is not None:
        if not sigma_u2 > 0:
            raise ValueError(f"sigma_u2 must be > 0, got {sigma_u2}")
        bias_sd = bias / float(np.sqrt(sigma_u2))
        if spread is not None and spread > 0 and cov > 0:
            accuracy = float(np.sqrt(cov / (spread * sigma_u2)))
    return LRStatistics(n=int(w.size), bias=bias, bias_sd=bias_sd, dispersion=cov / var_p,
                        ratio_of_accuracies=cov / float(np.sqrt(var_p * var_w)),
                        accuracy_partial=accuracy)


def validation_cohort(birth_years: pd.Series, *, share: float) -> pd.Index:
    """The youngest birth years, taken whole, until they hold at least ``share`` of the
    animals with a known birth year: the index labels of those animals. Whole years, because
    the LR method validates on a *later* cohort — splitting a year would put contemporaries
    on both sides. Unknown years (missing or 0) never validate. May be empty."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"validation share must be in (0, 1), got {share}")
    known = birth_years[birth_years.notna() & (birth_years != 0)].astype(int)
    if known.empty:
        return known.index
    counts = known.value_counts().sort_index(ascending=False)
    need = share * len(known)
    taken, years = 0, []
    for year, n in counts.items():
        if taken >= need:
            break
        years.append(year)
        taken += int(n)
    if taken == len(known):  # every animal in the cohort: nothing left to train on
        years = years[:-1]
    return known.index[known.isin(years)]


def release_blockers(stats: LRStatistics, *, max_bias_sd: float,
                     dispersion_range: Sequence[float]) -> list[str]:
    """Why this trait's validation is too far off for an automatic release (empty: fine).
    Each reason starts with its rule's name: ``validation.bias`` (``|Delta_p| / sigma_u``
    above ``max_bias_sd``) or ``validation.dispersion`` (``b_{w,p}`` outside the range)."""
    low, high = dispersion_range
    reasons = []
    if stats.bias_sd is not None and abs(stats.bias_sd) > max_bias_sd:
        reasons.append(f"validation.bias: bias {stats.bias_sd:+.3f} genetic SD, "
                       f"beyond +/-{max_bias_sd}")
    if not low <= stats.dispersion <= high:
        reasons.append(f"validation.dispersion: slope {stats.dispersion:.3f} outside "
                       f"[{low}, {high}]")
    return reasons
