"""The large-herd path: SNP-BLUP for all traits at once, straight from the packed genotypes.

Model per trait ``y_t = X_t b_t + Z a_t + e_t`` with ``Z`` the centred genotypes (as in
:mod:`.snpblup`, Stranden & Garrick 2009: ``Z a_hat`` equals the GBLUP GEBV for the same
variances). Every trait has its own records, fixed effects and
``lambda_t = s_e^2 / (s_u^2 / 2 sum pq)``, but all traits share the genotypes: each
Jacobi-PCG iteration makes one pass for ``Z A`` and one for ``Z' R`` over the packed bytes with
the traits as columns (:mod:`.packed_products`), so the bytes are read once per iteration
whatever the traits. A pass still costs about its number of columns (one table addition per
byte and trait dominates), so each trait has its own CG scalars, stops on its own residual and
then leaves the passes (at 100,000 animals: 226 trait-passes instead of 4 x 96). Memory is
the packed genotypes plus a few ``(animals + SNPs) x traits`` vectors
(:func:`.path.snpblup_peak_gib`); G is never formed.

Variance components: a trait with a heritability in the settings splits its residual
phenotypic variance by it (as GBLUP does); every other trait gets exact spectral REML
(:mod:`.reml`) on a random subsample of at most ``reml_animals`` recorded animals (fixed
seed; its G uses the subsample's allele frequencies). The run's record says which.

Reliabilities are approximate — the exact ones need ``C^-1`` (``M x M``) or G (``N x N``).
They are the GBLUP reliabilities under G written as what a core of at most
``reliability_core`` animals explains plus each animal's own remainder (Nyström / APY,
:mod:`.core_reliability`): exact when the core is the whole herd, and ranked like the exact
ones at r 0.93–0.997 with a core of 2–20 % of a 10,000-animal herd
(``benchmarks/evaluation/README.md``). The core takes the genotyped parents with the most
genotyped offspring first (``parents``; among equals, those of unrecorded animals), then
random animals. ``G_ii = sum_s z_is^2 /
(2 sum pq)`` (the exact diagonal, genomic inbreeding) comes from one more pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.snpmap import GenotypeSet

from .core_reliability import choose_core, core_factor, core_reliabilities
from .gblup import (
    DEFAULT_FACTORS, TraitResult, check_records, evaluate_traits, fixed_effects_design,
    given_variances, trait_records,
)
from .grm import allele_frequencies, vanraden_grm
from .packed_products import z_times, zt_times
from .reml import VarianceComponents

log = logging.getLogger(__name__)

RELIABILITY_METHOD = ("approximate: GBLUP reliabilities with G through a core of genotyped "
                      "animals, parents with the most offspring first (Nyström; APY, "
                      "Misztal et al. 2014)")


@dataclass(frozen=True)
class LargeRun:
    """Results in :class:`.gblup.TraitResult` shape, G's diagonal and the record of how."""

    results: list[TraitResult]
    g_diag: np.ndarray  # VanRaden G_ii of every animal, in genotype order
    record: dict  # variances' source, subsample, iterations, residuals, reliabilities' method


@dataclass(frozen=True)
class _Trait:
    name: str
    pos: np.ndarray  # positions of the recorded animals in the union of recorded rows
    obs: np.ndarray  # their rows in the genotypes
    y: np.ndarray
    x: np.ndarray
    fixed_names: list[str]


def evaluate_traits_snpblup(
    geno: GenotypeSet,
    records: pd.DataFrame,
    *,
    traits: Sequence[str],
    h2: Mapping[str, float] | None = None,
    variances: Mapping[str, VarianceComponents] | None = None,
    factors: Sequence[str] = DEFAULT_FACTORS,
    min_records: int = 20,
    reml_animals: int = 5000,
    reliability_core: int = 2000,
    parents: np.ndarray | None = None,
    seed: int = 2026,
    tol: float = 1e-6,
    max_iter: int = 1000,
) -> LargeRun:
    """GEBVs, approximate reliabilities and PEVs of every animal of ``geno`` for ``traits``.

    ``variances`` (per trait, e.g. a previous run's) come first, then ``h2``; a trait with
    neither gets REML on the subsample. Records and refusals are those of
    :func:`.gblup.evaluate_traits`. ``parents`` (each animal's sire and dam rows, ``N x 2``,
    -1 unknown or not genotyped) choose the reliabilities' core of ``reliability_core``
    animals (:func:`.core_reliability.choose_core`).

    Raises
    ------
    ValueError
        Bad records, a trait with too few records (also in the REML subsample), no
        polymorphic SNP, or no convergence within ``max_iter`` iterations.
    """
    ids = [str(a) for a in geno.samples]
    index = {a: i for i, a in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError("animal IDs are not unique")
    check_records(index, records)
    variances, h2 = dict(variances or {}), dict(h2 or {})
    for t, v in h2.items():
        if not 0.0 < v < 1.0:
            raise ValueError(f"heritability of {t!r} must be in (0, 1), got {v}")
    per_trait = {t: trait_records(index, records, t, min_records=min_records) for t in traits}
    union = np.unique(np.concatenate([obs for obs, _ in per_trait.values()])) if traits \
        else np.empty(0, np.int64)
    specs = []
    for t, (obs, rec) in per_trait.items():
        x, names = fixed_effects_design(rec, factors=factors)
        specs.append(_Trait(t, np.searchsorted(union, obs), obs,
                            rec[t].to_numpy(dtype=np.float64), x, names))
    freqs = allele_frequencies(geno)
    p = np.where(np.isnan(freqs.p), 0.0, freqs.p)
    scale = float(2.0 * np.sum(p * (1.0 - p)))
    if scale <= 0:
        raise ValueError("no polymorphic SNP with calls")
    t0 = time.perf_counter()
    sources = {}
    need_reml = [s.name for s in specs if s.name not in variances and s.name not in h2]
    for s in specs:
        if s.name in variances:
            sources[s.name] = "given (e.g. a previous run)"
        elif s.name in h2:
            variances[s.name] = given_variances(s.y, s.x, h2[s.name])
            sources[s.name] = f"h2 {h2[s.name]} from the settings"
    sample = 0
    if need_reml:
        found, sample = reml_on_subsample(geno, records, union, need_reml, factors=factors,
                                          min_records=min_records, animals=reml_animals,
                                          seed=seed)
        variances.update(found)
        sources.update({t: f"REML on a random subsample of {sample:,} recorded animals "
                        f"(seed {seed})" for t in need_reml})
    t1 = time.perf_counter()
    lam = np.array([variances[s.name].sigma_e2 / (variances[s.name].sigma_u2 / scale)
                    for s in specs])
    effects, fixed, iterations, residuals = _pcg(geno.packed, union, p, specs, lam,
                                                 tol=tol, max_iter=max_iter)
    t2 = time.perf_counter()
    all_rows = np.arange(len(ids))
    gebv = z_times(geno.packed, all_rows, p, effects) if specs else np.zeros((len(ids), 0))
    g_diag = z_times(geno.packed, all_rows, p, np.ones(p.size), power=2) / scale
    unrecorded = np.ones(len(ids), dtype=bool)
    unrecorded[union] = False
    core = choose_core(len(ids), reliability_core, parents=parents, unrecorded=unrecorded,
                       seed=seed)
    factor = core_factor(geno.packed, len(geno.snps), p, scale, core, g_diag) if specs \
        else None
    rels = [core_reliabilities(factor, g_diag, s.obs, s.x, variances[s.name]) for s in specs]
    t3 = time.perf_counter()
    results = []
    for i, (s, rel) in enumerate(zip(specs, rels, strict=True)):
        vc = variances[s.name]
        has = np.zeros(len(ids), dtype=bool)
        has[s.obs] = True
        table = pd.DataFrame({"animal": ids, "trait": s.name, "gebv": gebv[:, i],
                              "pev": vc.sigma_u2 * g_diag * (1.0 - rel), "reliability": rel,
                              "has_record": has})
        results.append(TraitResult(s.name, table, pd.Series(fixed[i], index=s.fixed_names),
                                   vc, {"variances": t1 - t0, "solve": t2 - t1,
                                        "reliability": t3 - t2}))
    record = {"variances": sources, "reml_subsample": sample, "tolerance": tol,
              "iterations": iterations, "relative_residual": residuals,
              "reliability": RELIABILITY_METHOD,
              "reliability_core": {"animals": int(core.size),
                                   "parents": _parents_in(core, parents),
                                   "rank": factor.rank if factor else 0}}
    log.info("snpblup_multi.done", extra={"traits": list(traits), "iterations": iterations})
    return LargeRun(results, g_diag, record)


def reml_on_subsample(geno: GenotypeSet, records: pd.DataFrame, recorded: np.ndarray,
                      traits: Sequence[str], *, factors: Sequence[str], min_records: int,
                      animals: int, seed: int) -> tuple[dict[str, VarianceComponents], int]:
    """Exact spectral REML (:func:`.gblup.evaluate_traits`) on at most ``animals`` of the
    ``recorded`` rows drawn at random; returns the variances and the subsample's size."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(recorded, size=min(animals, recorded.size), replace=False))
    sub = GenotypeSet(packed=geno.packed[rows], samples=geno.samples[rows], snps=geno.snps)
    ids = [str(a) for a in sub.samples]
    sub_records = records[records["animal"].astype(str).isin(set(ids))]
    g = vanraden_grm(sub).matrix
    try:
        done = evaluate_traits(g, ids, sub_records, traits=traits, factors=factors,
                               min_records=min_records)
    except ValueError as exc:
        raise ValueError(f"REML on a subsample of {rows.size} animals: {exc}") from exc
    return {r.trait: r.variances for r in done}, int(rows.size)


def _recorded_sums(packed: np.ndarray, union: np.ndarray, p: np.ndarray,
                   specs: Sequence[_Trait]) -> np.ndarray:
    """``sum_{i recorded for t} z_is^2`` per SNP and trait (``M x k``)."""
    ind = np.zeros((union.size, len(specs)))
    for i, s in enumerate(specs):
        ind[s.pos, i] = 1.0
    return zt_times(packed, union, p, ind, power=2)


def _parents_in(core: np.ndarray, parents: np.ndarray | None) -> int:
    """How many of the core's animals are a genotyped parent of another."""
    if parents is None:
        return 0
    known = np.asarray(parents)
    return int(np.isin(core, known[known >= 0]).sum())


def _pcg(packed: np.ndarray, union: np.ndarray, p: np.ndarray, specs: Sequence[_Trait],
         lam: np.ndarray, *, tol: float, max_iter: int
         ) -> tuple[np.ndarray, list[np.ndarray], dict[str, int], dict[str, float]]:
    """Jacobi-PCG (Hestenes & Stiefel 1952) on every trait's SNP-BLUP equations together:
    one ``Z A`` and one ``Z' R`` pass over the packed rows per iteration, carrying only the
    traits not yet converged (a pass costs about its number of traits; at 100,000 animals
    milk needed 96 iterations, fertility 27)."""
    k, m = len(specs), p.size
    if k == 0:
        return np.zeros((m, 0)), [], {}, {}

    def apply(active: np.ndarray, b: list[np.ndarray], a: np.ndarray
              ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """The coefficient matrix times the directions of the ``active`` traits (``a``:
        their SNP parts, ``m x len(active)``)."""
        za = z_times(packed, union, p, a)
        resid = np.zeros((union.size, active.size))
        out_b = {}
        for j, i in enumerate(active):
            s = specs[i]
            e = s.x @ b[i] + za[s.pos, j]
            resid[s.pos, j] = e
            out_b[i] = s.x.T @ e
        return out_b, zt_times(packed, union, p, resid) + lam[active] * a

    y = np.zeros((union.size, k))
    for i, s in enumerate(specs):
        y[s.pos, i] = s.y
    rhs_b = [s.x.T @ s.y for s in specs]
    rhs_a = zt_times(packed, union, p, y)
    diag_b = [np.einsum("ij,ij->j", s.x, s.x) for s in specs]
    diag_a = _recorded_sums(packed, union, p, specs) + lam
    norm = np.sqrt([rhs_b[i] @ rhs_b[i] + rhs_a[:, i] @ rhs_a[:, i] for i in range(k)])
    sol_b = [np.zeros_like(r) for r in rhs_b]
    sol_a = np.zeros((m, k))
    r_b, r_a = [r.copy() for r in rhs_b], rhs_a.copy()
    d_b = [r_b[i] / diag_b[i] for i in range(k)]
    d_a = r_a / diag_a
    rs = np.array([r_b[i] @ d_b[i] + r_a[:, i] @ d_a[:, i] for i in range(k)])
    done = np.zeros(k, dtype=bool)
    iterations = dict.fromkeys((s.name for s in specs), 0)
    rel = np.ones(k)
    for it in range(1, max_iter + 1):
        active = np.flatnonzero(~done)
        q_b, q_a = apply(active, d_b, d_a[:, active])
        for j, i in enumerate(active):
            alpha = rs[i] / (d_b[i] @ q_b[i] + d_a[:, i] @ q_a[:, j])
            sol_b[i] += alpha * d_b[i]
            sol_a[:, i] += alpha * d_a[:, i]
            r_b[i] -= alpha * q_b[i]
            r_a[:, i] -= alpha * q_a[:, j]
            rel[i] = np.sqrt(r_b[i] @ r_b[i] + r_a[:, i] @ r_a[:, i]) / norm[i]
            iterations[specs[i].name] = it
            if rel[i] < tol:
                done[i] = True
                continue
            s_b, s_a = r_b[i] / diag_b[i], r_a[:, i] / diag_a[:, i]
            rs_new = r_b[i] @ s_b + r_a[:, i] @ s_a
            d_b[i] = s_b + (rs_new / rs[i]) * d_b[i]
            d_a[:, i] = s_a + (rs_new / rs[i]) * d_a[:, i]
            rs[i] = rs_new
        if done.all():
            return sol_a, sol_b, iterations, {s.name: float(rel[i])
                                              for i, s in enumerate(specs)}
    late = [s.name for i, s in enumerate(specs) if not done[i]]
    raise ValueError(f"SNP-BLUP did not converge in {max_iter} iterations for {late} "
                     f"(relative residuals {[f'{r:.1e}' for r in rel[~done]]}, tolerance "
                     f"{tol:.0e})")
