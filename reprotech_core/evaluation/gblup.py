"""GBLUP genomic breeding values, reliabilities and multi-trait runs.

The selection index over the GEBVs is :mod:`reprotech_core.results.index`.

Single-trait animal model ``y = X b + Z u + e``, ``u ~ N(0, G s_u^2)`` (VanRaden 2008) solved
exactly through the eigendecomposition of G on the phenotyped animals (see
:mod:`.reml`): ``u_hat = s_u^2 G_{.,o} V^-1 (y - X b_hat)`` (Henderson 1975), which equals the
mixed-model-equation solution but never needs ``G^-1``. A singular G (the centred GRM has rank
at most n - 1) is therefore fine; a G that is not PSD beyond rounding is refused.
Animals without a record get predictions through their genomic covariance with those that
have one.

Prediction error variance: ``PEV_i = s_u^2 G_ii - Var(u_hat_i)`` with
``Var(u_hat) = s_u^4 G_{.,o} P G_{o,.}`` and ``P = V^-1 - V^-1 X (X'V^-1 X)^-1 X'V^-1``;
reliability ``1 - PEV_i / (s_u^2 G_ii)`` (Henderson 1975; VanRaden 2008).
Traits recorded on the same animals share one eigendecomposition.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg

from .design import ClassDesign, class_design
from .reml import Rotated, Spectral, VarianceComponents, reml, spectral_decomposition

log = logging.getLogger(__name__)

TRAITS = ("milk_production", "fertility", "disease_resistance", "longevity")
# The contemporary group (:mod:`.contemporary`) where the records have one, else the herd;
# birth year within the group is the age class of the record (cows recorded side by side
# but born in different years differ in age and parity). Absent factors are skipped.
DEFAULT_FACTORS = ("cg", "herd", "birth_year")


@dataclass(frozen=True)
class _PhenotypedSet:
    """What traits recorded on the same animals share: G_oo's spectrum and G_mo U."""

    obs: np.ndarray  # indices (into G) of phenotyped animals
    spectral: Spectral
    u_sq: np.ndarray  # U * U, for diagonals
    w_mis: np.ndarray  # G[mis, obs] @ U
    mis: np.ndarray


def _phenotyped_set(g: np.ndarray, obs: np.ndarray) -> _PhenotypedSet:
    mis = np.setdiff1d(np.arange(g.shape[0]), obs)
    spectral = spectral_decomposition(g[np.ix_(obs, obs)])
    u = spectral.vectors
    w_mis = g[np.ix_(mis, obs)].astype(np.float64) @ u if mis.size else np.empty((0, obs.size))
    return _PhenotypedSet(obs=obs, spectral=spectral, u_sq=u * u, w_mis=w_mis, mis=mis)


@dataclass(frozen=True)
class TraitResult:
    """One trait's evaluation: per-animal table, fixed effects and variance components."""

    trait: str
    animals: pd.DataFrame  # animal, trait, gebv, pev, reliability, has_record
    fixed: pd.Series
    variances: VarianceComponents
    seconds: Mapping[str, float]  # decomposition (0 when shared), variances, solve


def _solve(g_diag: np.ndarray, ps: _PhenotypedSet, y: np.ndarray, x: np.ndarray,
           vc: VarianceComponents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b_hat, u_hat for all animals, Var(u_hat) diagonal) in G order."""
    rot = Rotated.from_data(y, x, ps.spectral)
    lam = vc.sigma_u2 * rot.d + vc.sigma_e2
    xl = rot.x / lam[:, None]
    xtvx = rot.x.T @ xl
    chol = linalg.cho_factor(xtvx, lower=True)
    b = linalg.cho_solve(chol, xl.T @ rot.y)
    alpha = (rot.y - rot.x @ b) / lam  # U' V^-1 (y - X b)
    u = ps.spectral.vectors
    su2 = vc.sigma_u2
    n = g_diag.size
    gebv, var_u = np.empty(n), np.empty(n)
    # observed: G_oo U = U D
    d = rot.d
    gebv[ps.obs] = su2 * (u @ (d * alpha))
    t_obs = u @ (d[:, None] * xl)
    var_u[ps.obs] = su2**2 * (ps.u_sq @ (d * d / lam) - _quad_rows(t_obs, chol))
    if ps.mis.size:
        gebv[ps.mis] = su2 * (ps.w_mis @ alpha)
        t_mis = ps.w_mis @ xl
        var_u[ps.mis] = su2**2 * (np.einsum("ij,ij,j->i", ps.w_mis, ps.w_mis, 1.0 / lam)
                                  - _quad_rows(t_mis, chol))
    return b, gebv, var_u


def _quad_rows(t: np.ndarray, chol: tuple) -> np.ndarray:
    """Row-wise ``t_i' (X'V^-1X)^-1 t_i``."""
    return np.einsum("ij,ji->i", t, linalg.cho_solve(chol, t.T))


def validate_g(g: np.ndarray, ids: Sequence[str]) -> dict[str, int]:
    """Check G against its IDs; return ID -> row. A diagonal <= 0 cannot be a relationship."""
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"G must be square, got {g.shape}")
    if len(ids) != g.shape[0]:
        raise ValueError(f"{len(ids)} animal IDs for a {g.shape[0]} x {g.shape[0]} G")
    index = {a: i for i, a in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError("animal IDs of G are not unique")
    diag = np.diag(g)
    if not np.all(np.isfinite(diag)) or np.any(diag <= 0):
        raise ValueError("G has a non-positive or non-finite diagonal element")
    return index


def check_records(index: Mapping[str, int], records: pd.DataFrame) -> None:
    """Every record row names a genotyped animal, once."""
    if "animal" not in records.columns:
        raise ValueError("records need an 'animal' column")
    animals = records["animal"].astype(str)
    unknown = sorted(set(animals) - set(index))
    if unknown:
        raise ValueError(f"phenotypes for {len(unknown)} animals without genotypes (not in G), "
                         f"e.g. {unknown[:5]}")
    dup = animals[animals.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"animals with more than one record row: {dup[:5]}")


def trait_records(
    index: Mapping[str, int], records: pd.DataFrame, trait: str, *, min_records: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """(row indices of the recorded animals, sorted; their records in the same order).

    A column ``<factor>:<trait>`` is that trait's own class of ``<factor>`` (the contemporary
    group of that trait's record dates, :func:`.contemporary.group_column`) and is returned
    as ``<factor>``, so each trait is fitted with its own groups."""
    if trait not in records.columns:
        raise ValueError(f"records have no column for trait {trait!r}")
    rec = records[records[trait].notna()]
    own = {c: c.removesuffix(f":{trait}") for c in rec.columns if c.endswith(f":{trait}")}
    rec = rec.drop(columns=[c for c in own.values() if c in rec.columns]).rename(columns=own)
    if len(rec) < min_records:
        raise ValueError(f"trait {trait!r}: {len(rec)} phenotyped animals, need {min_records}")
    obs = np.array([index[a] for a in rec["animal"].astype(str)], dtype=np.int64)
    order = np.argsort(obs)
    return obs[order], rec.iloc[order]


def evaluate_traits(
    g: np.ndarray,
    ids: Sequence[str],
    records: pd.DataFrame,
    *,
    traits: Sequence[str] = TRAITS,
    h2: Mapping[str, float] | None = None,
    factors: Sequence[str] = DEFAULT_FACTORS,
    min_records: int = 20,
) -> list[TraitResult]:
    """GBLUP (with REML unless ``h2`` is given) for several traits over one G.

    Parameters
    ----------
    g
        Genomic relationship matrix (e.g. ``vanraden_grm(...).matrix``), rows in ``ids`` order.
    ids
        Animal IDs of G's rows; every one gets a GEBV, with or without a record.
    records
        One row per phenotyped animal: ``animal``, one column per trait (NaN = not recorded)
        and optional fixed-effect columns (``herd``, ``birth_year``, and per trait its
        contemporary group ``cg:<trait>`` from :meth:`.contemporary.ContemporaryGroups.apply`).
    traits
        Trait columns to evaluate (default the four Reprotech traits).
    h2
        Heritabilities per trait from settings; a trait not in the mapping gets REML. The
        phenotypic variance is then the residual variance after fixed effects.
    factors
        Class fixed effects used when present in ``records``.
    min_records
        Fewer phenotyped animals than this for a trait is an error.

    Returns
    -------
    list[TraitResult]
        One per trait, in ``traits`` order.
    """
    g = np.asarray(g)
    index = validate_g(g, ids)
    check_records(index, records)
    h2 = dict(h2 or {})
    for t, v in h2.items():
        if not 0.0 < v < 1.0:
            raise ValueError(f"heritability of {t!r} must be in (0, 1), got {v}")
    g_diag = np.diag(g).astype(np.float64)
    # Validate every trait before the heavy work; keep a decomposition only while a later
    # trait recorded on the same animals still needs it.
    per_trait = {t: trait_records(index, records, t, min_records=min_records) for t in traits}
    keys = {t: tuple(obs.tolist()) for t, (obs, _) in per_trait.items()}
    pending = Counter(keys.values())
    sets: dict[tuple[int, ...], _PhenotypedSet] = {}
    results = []
    for trait in traits:
        obs, rec = per_trait[trait]
        key = keys[trait]
        t0 = time.perf_counter()
        if key not in sets:
            sets[key] = _phenotyped_set(g, obs)
        ps = sets[key]
        pending[key] -= 1
        if pending[key] == 0:
            del sets[key]
        t1 = time.perf_counter()
        y = rec[trait].to_numpy(dtype=np.float64)
        design = class_design(rec, factors=factors)
        x, names = design.dense(), design.names
        try:
            vc = given_variances(y, design, h2[trait]) if trait in h2 \
                else reml(y, x, ps.spectral)
        except ValueError as exc:
            raise ValueError(f"trait {trait!r}: {exc}") from exc
        t2 = time.perf_counter()
        b, gebv, var_u = _solve(g_diag, ps, y, x, vc)
        seconds = {"decomposition": t1 - t0, "variances": t2 - t1,
                   "solve": time.perf_counter() - t2}
        rel = np.clip(var_u / (vc.sigma_u2 * g_diag), 0.0, 1.0)
        pev = vc.sigma_u2 * g_diag * (1.0 - rel)
        has = np.zeros(len(ids), dtype=bool)
        has[obs] = True
        if not (np.all(np.isfinite(gebv)) and np.all(np.isfinite(rel))):
            raise ValueError(f"trait {trait!r}: non-finite GEBV or reliability (report a bug)")
        table = pd.DataFrame({"animal": list(ids), "trait": trait, "gebv": gebv, "pev": pev,
                              "reliability": rel, "has_record": has})
        results.append(TraitResult(trait=trait, animals=table,
                                   fixed=pd.Series(b, index=names), variances=vc,
                                   seconds=seconds))
        log.info("gblup.trait_done", extra={"trait": trait, "h2": vc.h2, "n_records": len(y),
                                            **seconds})
    return results


def given_variances(y: np.ndarray, design: ClassDesign, h2: float) -> VarianceComponents:
    """Split the residual phenotypic variance (after fixed effects) by a given h2."""
    resid = design.residuals(y)
    var = float(resid @ resid) / (len(y) - design.n_columns)
    if var <= 0:
        raise ValueError("phenotypes have no variance after fixed effects")
    return VarianceComponents(sigma_u2=h2 * var, sigma_e2=(1 - h2) * var, h2=h2,
                              se_h2=float("nan"), loglik=float("nan"))


def gebv_table(results: Sequence[TraitResult]) -> pd.DataFrame:
    """Long table ``animal, trait, gebv, reliability`` (the CLI/persistence shape)."""
    return pd.concat([r.animals[["animal", "trait", "gebv", "reliability"]] for r in results],
                     ignore_index=True)

