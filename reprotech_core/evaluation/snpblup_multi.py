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
(:mod:`.reml`) on at most ``reml_animals`` of its recorded animals, drawn by whole
fixed-effect groups (:func:`group_sample`; fixed seed; its G uses the subsample's allele
frequencies). The run's record says which, and the subsample's animals and groups.

Fixed effects are sparse (:mod:`.design`): one non-zero per factor and record, however many
herd-year-season groups.

Reliabilities are approximate — the exact ones need ``C^-1`` (``M x M``) or G (``N x N``).
They are the GBLUP reliabilities under G written as what a core of at most
``reliability_core`` animals explains plus each animal's own remainder (Nyström / APY,
:mod:`.core_reliability`): exact when the core is the whole herd, and ranked like the exact
ones at r 0.93–0.997 with a core of 2–20 % of a 10,000-animal herd
(``benchmarks/evaluation/README.md``). The core takes the genotyped parents with the most
genotyped offspring first (``parents``; among equals, those of unrecorded animals), then
random animals; an animal without a record keeps its exact relationship to its parents outside
the core (:func:`.core_reliability.parent_links`). ``G_ii = sum_s z_is^2 /
(2 sum pq)`` (the exact diagonal, genomic inbreeding) comes from one more pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.snpmap import GenotypeSet

from .core_reliability import choose_core, core_factor, core_reliabilities, parent_links
from .design import ClassDesign, class_design
from .gblup import (
    DEFAULT_FACTORS, TraitResult, check_records, evaluate_traits, given_variances,
    trait_records,
)
from .grm import allele_frequencies, vanraden_grm
from .packed_products import z_times, zt_times
from .reml import VarianceComponents

log = logging.getLogger(__name__)

GROUP_SAMPLE_MIN = 20
"""Records a group brings to the REML subsample before larger groups are cut (the cut costs
a group one of its records' worth of information, at most 1/20)."""
RELIABILITY_METHOD = ("approximate: GBLUP reliabilities with G through a core of genotyped "
                      "animals, parents with the most offspring first (Nyström; APY, "
                      "Misztal et al. 2014), and the links of animals without a record to "
                      "their parents outside the core")


@dataclass(frozen=True)
class LargeRun:
    """Results in :class:`.gblup.TraitResult` shape, G's diagonal and the record of how."""

    results: list[TraitResult]
    g_diag: np.ndarray  # VanRaden G_ii of every animal, in genotype order
    record: dict  # variances' source, subsample, iterations, residuals, reliabilities' method
    effects: np.ndarray  # SNP effects, M x traits (results' order): a partial run's start
    p: np.ndarray  # allele frequencies that centred the genotypes (NaN-free)

    @property
    def scale(self) -> float:
        """``2 sum p q``, G's denominator."""
        return float(2.0 * np.sum(self.p * (1.0 - self.p)))


@dataclass(frozen=True)
class _Trait:
    name: str
    pos: np.ndarray  # positions of the recorded animals in the union of recorded rows
    obs: np.ndarray  # their rows in the genotypes
    y: np.ndarray
    design: ClassDesign  # sparse: one non-zero per factor and record


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
    progress: Callable[[str], None] | None = None,
) -> LargeRun:
    """GEBVs, approximate reliabilities and PEVs of every animal of ``geno`` for ``traits``.

    ``variances`` (per trait, e.g. a previous run's) come first, then ``h2``; a trait with
    neither gets REML on the subsample. Records and refusals are those of
    :func:`.gblup.evaluate_traits`. ``parents`` (each animal's sire and dam rows, ``N x 2``,
    -1 unknown or not genotyped) choose the reliabilities' core of ``reliability_core``
    animals (:func:`.core_reliability.choose_core`). ``progress`` hears each stage and each
    PCG iteration (:mod:`reprotech_core.job_progress`).

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
    union, specs = _specs(per_trait, factors)
    freqs = allele_frequencies(geno)
    p = np.where(np.isnan(freqs.p), 0.0, freqs.p)
    scale = float(2.0 * np.sum(p * (1.0 - p)))
    if scale <= 0:
        raise ValueError("no polymorphic SNP with calls")
    t0 = time.perf_counter()
    sources = {}
    subsamples: dict[str, dict[str, int]] = {}
    picks: dict[tuple[int, ...], list[str]] = {}  # traits sharing a subsample share its G
    for s in specs:
        if s.name in variances:
            sources[s.name] = "given (e.g. a previous run)"
        elif s.name in h2:
            variances[s.name] = given_variances(s.y, s.design, h2[s.name])
            sources[s.name] = f"h2 {h2[s.name]} from the settings"
        else:
            pick = group_sample(s.design.group, reml_animals, np.random.default_rng(seed))
            picks.setdefault(tuple(s.obs[pick].tolist()), []).append(s.name)
            subsamples[s.name] = {"animals": int(pick.size),
                                  "groups": int(np.unique(s.design.group[pick]).size)}
            sources[s.name] = (f"REML on {pick.size:,} recorded animals in "
                               f"{subsamples[s.name]['groups']:,} fixed-effect groups drawn "
                               f"at random (seed {seed})")
    say = progress or _quiet
    for rows, names in picks.items():
        say(f"variance components: REML of {', '.join(names)} on {len(rows):,} records")
        variances.update(reml_on_subsample(geno, records, np.array(rows), names,
                                           factors=factors, min_records=min_records))
    t1 = time.perf_counter()
    lam = np.array([variances[s.name].sigma_e2 / (variances[s.name].sigma_u2 / scale)
                    for s in specs])
    effects, fixed, iterations, residuals = _pcg(geno.packed, union, p, specs, lam,
                                                 tol=tol, max_iter=max_iter, progress=say)
    t2 = time.perf_counter()
    all_rows = np.arange(len(ids))
    gebv = z_times(geno.packed, all_rows, p, effects) if specs else np.zeros((len(ids), 0))
    g_diag = z_times(geno.packed, all_rows, p, np.ones(p.size), power=2) / scale
    unrecorded = np.ones(len(ids), dtype=bool)
    unrecorded[union] = False
    core = choose_core(len(ids), reliability_core, parents=parents, unrecorded=unrecorded,
                       seed=seed)
    say(f"reliabilities: products with a core of {core.size:,} animals")
    factor = core_factor(geno.packed, len(geno.snps), p, scale, core, g_diag) if specs \
        else None
    links = None
    if factor is not None and parents is not None:
        recorded = np.zeros((len(ids), len(specs)), dtype=bool)
        for i, s in enumerate(specs):
            recorded[s.obs, i] = True
        say("reliabilities: links of animals without a record to their parents")
        links = parent_links(geno.packed, len(geno.snps), p, scale, factor, parents,
                             np.flatnonzero(~recorded.all(axis=1)))
    rels = []
    for s in specs:
        say(f"reliabilities: {s.name}")
        rels.append(core_reliabilities(factor, g_diag, s.obs, s.design, variances[s.name],
                                       links=links))
    t3 = time.perf_counter()
    results = []
    for i, (s, rel) in enumerate(zip(specs, rels, strict=True)):
        vc = variances[s.name]
        has = np.zeros(len(ids), dtype=bool)
        has[s.obs] = True
        table = pd.DataFrame({"animal": ids, "trait": s.name, "gebv": gebv[:, i],
                              "pev": vc.sigma_u2 * g_diag * (1.0 - rel), "reliability": rel,
                              "has_record": has})
        results.append(TraitResult(s.name, table, pd.Series(fixed[i], index=s.design.names),
                                   vc, {"variances": t1 - t0, "solve": t2 - t1,
                                        "reliability": t3 - t2}))
    record = {"variances": sources, "reml_subsample": subsamples, "tolerance": tol,
              "iterations": iterations, "relative_residual": residuals,
              "reliability": RELIABILITY_METHOD,
              "reliability_core": {"animals": int(core.size),
                                   "parents": _parents_in(core, parents),
                                   "rank": factor.rank if factor else 0,
                                   "parent_links": 0 if links is None else int(links.child.size)}}
    log.info("snpblup_multi.done", extra={"traits": list(traits), "iterations": iterations})
    return LargeRun(results, g_diag, record, effects, p)


def partial_gebvs(geno: GenotypeSet, records: pd.DataFrame, whole: LargeRun,
                  traits: Sequence[str], *, factors: Sequence[str] = DEFAULT_FACTORS,
                  min_records: int = 20, tol: float = 1e-4, max_iter: int = 1000,
                  progress: Callable[[str], None] | None = None
                  ) -> tuple[dict[str, np.ndarray | str], dict[str, int]]:
    """GEBVs of every animal (genotype order) from ``records`` — the whole run's with some
    phenotypes removed, as forward validation needs — under the whole run's variances and
    centring, with the Jacobi-PCG started at the whole run's solution (the records left
    change it little, so it starts near its end). A trait that cannot be evaluated on the
    records left gets why (the ``str``). Also returns the iterations.

    ``tol`` is looser than the whole run's: validation compares the partial GEBVs with the
    whole ones by mean, slope and correlation (:mod:`.validation`), which a relative
    residual of 1e-4 moves far below their release thresholds."""
    ids = [str(a) for a in geno.samples]
    index = {a: i for i, a in enumerate(ids)}
    whole_by = {r.trait: i for i, r in enumerate(whole.results)}
    out: dict[str, np.ndarray | str] = {}
    per_trait = {}
    for t in traits:
        try:
            per_trait[t] = trait_records(index, records, t, min_records=min_records)
        except ValueError as exc:
            out[t] = str(exc)
    if not per_trait:
        return out, {}
    union, specs = _specs(per_trait, factors)
    lam = np.array([whole.results[whole_by[s.name]].variances.sigma_e2
                    / (whole.results[whole_by[s.name]].variances.sigma_u2 / whole.scale)
                    for s in specs])
    start_a = whole.effects[:, [whole_by[s.name] for s in specs]]
    start_b = [whole.results[whole_by[s.name]].fixed.reindex(s.design.names, fill_value=0.0)
               .to_numpy() for s in specs]
    effects, _, iterations, _ = _pcg(geno.packed, union, whole.p, specs, lam, tol=tol,
                                     max_iter=max_iter, start=(start_a, start_b),
                                     progress=progress or _quiet,
                                     label="validation: partial SNP-BLUP")
    gebv = z_times(geno.packed, np.arange(len(ids)), whole.p, effects)
    out.update({s.name: gebv[:, i] for i, s in enumerate(specs)})
    return out, iterations


def genomic_spread(geno: GenotypeSet, run: LargeRun, rows: np.ndarray) -> float:
    """``mean(diag G_vv) - mean(G_vv)`` (``1 + F - 2f``) of the animals ``rows`` without
    forming ``G_vv``: its mean is ``|Z_v' 1|^2 / (n_v^2 2 sum pq)``, one pass."""
    if rows.size == 0:
        raise ValueError("no validation animals")
    col = zt_times(geno.packed, rows, run.p, np.ones((rows.size, 1)))[:, 0]
    return float(run.g_diag[rows].mean() - col @ col / (rows.size**2 * run.scale))


def _specs(per_trait: Mapping[str, tuple[np.ndarray, pd.DataFrame]], factors: Sequence[str]
           ) -> tuple[np.ndarray, list[_Trait]]:
    """The union of recorded rows and each trait's records in it, with its design."""
    if not per_trait:
        return np.empty(0, np.int64), []
    union = np.unique(np.concatenate([obs for obs, _ in per_trait.values()]))
    return union, [_Trait(t, np.searchsorted(union, obs), obs, rec[t].to_numpy(np.float64),
                          class_design(rec, factors=factors))
                   for t, (obs, rec) in per_trait.items()]


def reml_on_subsample(geno: GenotypeSet, records: pd.DataFrame, rows: np.ndarray,
                      traits: Sequence[str], *, factors: Sequence[str],
                      min_records: int) -> dict[str, VarianceComponents]:
    """Exact spectral REML (:func:`.gblup.evaluate_traits`) of ``traits`` on the animals of
    genotype ``rows`` (drawn by :func:`group_sample`), with their G."""
    sub = GenotypeSet(packed=geno.packed[rows], samples=geno.samples[rows], snps=geno.snps)
    ids = [str(a) for a in sub.samples]
    sub_records = records[records["animal"].astype(str).isin(set(ids))]
    g = vanraden_grm(sub).matrix
    try:
        done = evaluate_traits(g, ids, sub_records, traits=traits, factors=factors,
                               min_records=min_records)
    except ValueError as exc:
        raise ValueError(f"REML on a subsample of {rows.size} animals: {exc}") from exc
    return {r.trait: r.variances for r in done}


def group_sample(group: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``min(size, n)`` records drawn by fixed-effect group (sorted).

    A record alone in its group tells REML nothing (the group's effect absorbs it), and a
    random ``size`` of 100,000 records in herd-year-season groups of six would leave most
    of them alone. So groups come in random order, each with at most ``m`` of its records
    (at random), ``m`` the smallest cap at which the groups hold ``size`` records but at
    least :data:`GROUP_SAMPLE_MIN`: small groups come whole, a few large herds share the
    sample evenly. The last group taken may be cut."""
    counts = np.bincount(group)
    size = min(size, group.size)
    low, cap = GROUP_SAMPLE_MIN, max(GROUP_SAMPLE_MIN, int(counts.max()))
    while low < cap:  # bisect the smallest cap that holds the sample
        mid = (low + cap) // 2
        if np.minimum(counts, mid).sum() >= size:
            cap = mid
        else:
            low = mid + 1
    within = np.empty(group.size, np.int64)  # a record's random rank within its group
    order = np.lexsort((rng.random(group.size), group))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    within[order] = np.arange(group.size) - np.repeat(starts, counts)
    kept = np.flatnonzero(within < cap)
    group_rank = rng.permutation(counts.size)[group[kept]]
    chosen = kept[np.lexsort((within[kept], group_rank))][:size]
    return np.sort(chosen)


def _recorded_sums(packed: np.ndarray, union: np.ndarray, p: np.ndarray,
                   specs: Sequence[_Trait]) -> np.ndarray:
    """``sum_{i recorded for t} z_is^2`` per SNP and trait (``M x k``)."""
    ind = np.zeros((union.size, len(specs)))
    for i, s in enumerate(specs):
        ind[s.pos, i] = 1.0
    return zt_times(packed, union, p, ind, power=2)


def _quiet(_: str) -> None:
    """No one listens."""


def _parents_in(core: np.ndarray, parents: np.ndarray | None) -> int:
    """How many of the core's animals are a genotyped parent of another."""
    if parents is None:
        return 0
    known = np.asarray(parents)
    return int(np.isin(core, known[known >= 0]).sum())


def _pcg(packed: np.ndarray, union: np.ndarray, p: np.ndarray, specs: Sequence[_Trait],
         lam: np.ndarray, *, tol: float, max_iter: int,
         start: tuple[np.ndarray, list[np.ndarray]] | None = None,
         progress: Callable[[str], None], label: str = "solving SNP-BLUP"
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
            e = s.design.matrix @ b[i] + za[s.pos, j]
            resid[s.pos, j] = e
            out_b[i] = s.design.matrix.T @ e
        return out_b, zt_times(packed, union, p, resid) + lam[active] * a

    y = np.zeros((union.size, k))
    for i, s in enumerate(specs):
        y[s.pos, i] = s.y
    rhs_b = [s.design.matrix.T @ s.y for s in specs]
    rhs_a = zt_times(packed, union, p, y)
    diag_b = [s.design.column_square_sums() for s in specs]
    diag_a = _recorded_sums(packed, union, p, specs) + lam
    norm = np.sqrt([rhs_b[i] @ rhs_b[i] + rhs_a[:, i] @ rhs_a[:, i] for i in range(k)])
    if start is None:
        sol_a, sol_b = np.zeros((m, k)), [np.zeros_like(r) for r in rhs_b]
        r_b, r_a = [r.copy() for r in rhs_b], rhs_a.copy()
    else:  # the residual of the start costs one pass
        sol_a, sol_b = start[0].copy(), [b.copy() for b in start[1]]
        q_b, q_a = apply(np.arange(k), sol_b, sol_a)
        r_b, r_a = [rhs_b[i] - q_b[i] for i in range(k)], rhs_a - q_a
    d_b = [r_b[i] / diag_b[i] for i in range(k)]
    d_a = r_a / diag_a
    rs = np.array([r_b[i] @ d_b[i] + r_a[:, i] @ d_a[:, i] for i in range(k)])
    rel = np.array([np.sqrt(r_b[i] @ r_b[i] + r_a[:, i] @ r_a[:, i]) / norm[i]
                    for i in range(k)])
    done = rel < tol
    iterations = dict.fromkeys((s.name for s in specs), 0)
    for it in range(1, max_iter + 1):
        if done.all():
            break
        active = np.flatnonzero(~done)
        progress(f"{label}: iteration {it}, {active.size} of {k} traits left, relative "
                 f"residual {rel[active].max():.1e} (to {tol:.0e})")
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
        return sol_a, sol_b, iterations, {s.name: float(rel[i]) for i, s in enumerate(specs)}
    late = [s.name for i, s in enumerate(specs) if not done[i]]
    raise ValueError(f"SNP-BLUP did not converge in {max_iter} iterations for {late} "
                     f"(relative residuals {[f'{r:.1e}' for r in rel[~done]]}, tolerance "
                     f"{tol:.0e})")
