"""The forward validation every evaluation run records, and the verdict its release obeys.

:func:`validate_run` evaluates the partial data (the whole run's records with the phenotypes
of the youngest birth years removed,
:func:`~reprotech_core.evaluation.validation.validation_cohort`) over the same G, and compares
the validation animals' GEBVs from both runs by the LR method
(:mod:`reprotech_core.evaluation.validation`, Legarra & Reverter 2018). The partial run
reuses each trait's heritability from the whole run instead of a second REML: GBLUP depends on
the variances only through ``sigma_e^2 / sigma_u^2``, which a given h2 fixes, so the partial
GEBVs are exactly those the whole run's model gives on less data — the paper's assumption for
unbiased LR statistics — and the run pays one extra solve per trait, not a second REML.

A single-step run is validated by the same method: the partial run is a single-step solve
with the whole run's variance components, every record of the cohort's birth years is masked
(genotyped animals' and non-genotyped animals'), and the statistics are those of the cohort's
genotyped, recorded animals — the genomic part, where G gives the accuracy of the partial
values. Non-genotyped animals' values are not validated on their own; the record says so.

A run of the large-herd path (:func:`validate_large_run`, no G) is validated the same way:
the partial run is SNP-BLUP with the whole run's variances, started at its solution (the
records left change it little: at 100,000 animals it re-converges in a fraction of the whole
solve's iterations, ``benchmarks/evaluation/README.md``), and the validation animals'
``1 + F - 2f`` comes from one pass over their genotypes instead of their block of G.

The record also carries the genetic trend per birth year (THE trend,
:func:`reprotech_core.results.index.genetic_trend`) and the release verdict: each trait whose
statistics are beyond the settings, or whose validation was not possible, adds a named reason,
and :func:`reprotech_core.store.evaluations.release_run` refuses a run with reasons unless a
person with ``results:release`` releases it explicitly, with a reason of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.evaluation.gblup import TraitResult, evaluate_traits
from reprotech_core.evaluation.single_step import HInverse, SingleStepResult
from reprotech_core.evaluation.snpblup_multi import LargeRun, genomic_spread, partial_gebvs
from reprotech_core.evaluation.validation import (
    lr_statistics,
    release_blockers,
    spread_of,
    validation_cohort,
)
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.results.index import genetic_trend
from reprotech_core.settings import Settings
from reprotech_core.store.single_step_run import partial_solves

METHOD = "LR method (Legarra & Reverter 2018), partial data without the youngest birth years"
LARGE = (f"{METHOD}; partial SNP-BLUP with the whole run's variances, started at its "
         "solution; the validation animals' spread (1 + F - 2f) from their genotypes")
SINGLE_STEP = ("partial single-step solve with the whole run's variance components; "
               "validation animals: the genotyped (the genomic part)")


@dataclass(frozen=True)
class ValidationRules:
    """The settings ``validation_*`` the validation and the release verdict follow."""

    share: float
    min_animals: int
    max_bias_sd: float
    dispersion_range: tuple[float, float]

    @classmethod
    def from_settings(cls, settings: Settings) -> ValidationRules:
        return cls(share=settings.validation_share,
                   min_animals=settings.validation_min_animals,
                   max_bias_sd=settings.validation_max_bias_sd,
                   dispersion_range=tuple(settings.validation_dispersion_range))


def not_possible(n: int) -> str:
    """The record of a trait that could not be validated: never silently nothing."""
    return f"validation not possible: {n} animals"


def validate_run(g: np.ndarray, ids: Sequence[str], records: pd.DataFrame,
                 birth_years: pd.Series, results: Sequence[TraitResult | SingleStepResult], *,
                 rules: ValidationRules, min_records: int, h_inv: HInverse | None = None,
                 born: pd.Series | None = None) -> dict:
    """The run's validation record (JSON-ready; see the module). ``birth_years`` is indexed
    by the animal IDs of G (``ids``); ``results`` are the whole run's traits.

    A single-step run gives ``h_inv`` and ``born`` (birth years of every animal in the
    records): the partial run is then single-step too, every record of the cohort's birth
    years is masked (genotyped or not), and the validation animals are the cohort's
    genotyped, recorded animals — the genomic part, whose G gives the accuracy."""
    def partial_run(partial: pd.DataFrame, runnable: dict[str, TraitResult]) -> dict:
        if h_inv is None:
            done = _partial_gebvs(g, ids, partial, runnable, min_records=min_records)
        else:
            done = partial_solves(h_inv, partial,
                                  {t: r.variances for t, r in runnable.items()},
                                  min_records=min_records)
        return {t: r if isinstance(r, str) else r.animals["gebv"].to_numpy()
                for t, r in done.items()}

    return _validate(ids, records, birth_years, results, rules=rules, min_records=min_records,
                     partial_run=partial_run,
                     spread=lambda rows: spread_of(g[np.ix_(rows, rows)]),
                     method=METHOD if h_inv is None else f"{METHOD}; {SINGLE_STEP}",
                     born=born)


def validate_large_run(geno: GenotypeSet, records: pd.DataFrame, birth_years: pd.Series,
                       run: LargeRun, *, rules: ValidationRules, min_records: int,
                       progress: Callable[[str], None] | None = None) -> dict:
    """:func:`validate_run` for a run of the large-herd path (no G): the partial run is
    SNP-BLUP started at the whole run's solution (:func:`.snpblup_multi.partial_gebvs`) and
    the validation animals' ``1 + F - 2f`` comes from their genotypes
    (:func:`.snpblup_multi.genomic_spread`). The record says how many iterations the
    partial run took."""
    ids = [str(a) for a in geno.samples]
    iterations: dict[str, int] = {}

    def partial_run(partial: pd.DataFrame, runnable: dict[str, TraitResult]) -> dict:
        done, its = partial_gebvs(geno, partial, run, list(runnable), min_records=min_records,
                                  progress=progress)
        iterations.update(its)
        return done

    out = _validate(ids, records, birth_years, run.results, rules=rules,
                    min_records=min_records, partial_run=partial_run,
                    spread=lambda rows: genomic_spread(geno, run, rows), method=LARGE)
    out["partial_iterations"] = iterations
    return out


def _validate(ids: Sequence[str], records: pd.DataFrame, birth_years: pd.Series,
              results: Sequence[TraitResult | SingleStepResult], *, rules: ValidationRules,
              min_records: int, partial_run: Callable[[pd.DataFrame, dict], dict],
              spread: Callable[[np.ndarray], float], method: str,
              born: pd.Series | None = None) -> dict:
    """What every path's validation shares: the cohort, the masking, the statistics of each
    runnable trait and the verdict. ``partial_run`` gives each trait's partial GEBVs in
    ``ids`` order (or why not, a ``str``); ``spread`` the ``1 + F - 2f`` of rows of ``ids``."""
    cohort = validation_cohort(birth_years, share=rules.share)
    young = set(cohort.astype(str))
    years = {int(y) for y in birth_years[cohort]}
    partial = records.copy()
    born = birth_years if born is None else born
    masked = partial["animal"].astype(str).map(born).isin(years)
    traits: dict[str, dict] = {}
    runnable: dict[str, TraitResult] = {}
    for res in results:
        has = res.animals["has_record"].to_numpy() & res.animals["animal"].isin(young).to_numpy()
        n_valid = int(has.sum())
        n_train = int((partial[res.trait].notna() & ~masked).sum())
        h2 = res.variances.h2
        if n_valid < rules.min_animals:
            traits[res.trait] = {"n": n_valid, "not_possible": not_possible(n_valid)}
        elif n_train < min_records:
            traits[res.trait] = {"n": n_valid, "not_possible": f"{not_possible(n_valid)}; "
                                 f"{n_train} records left to train on"}
        elif not 0.0 < h2 < 1.0:
            traits[res.trait] = {"n": n_valid, "not_possible": f"{not_possible(n_valid)}; "
                                 f"h2 estimate {h2:.3f} at the boundary"}
        else:
            runnable[res.trait] = res
    partial.loc[masked, list(runnable)] = np.nan
    index = {a: i for i, a in enumerate(ids)}
    reasons: list[str] = []
    parts = partial_run(partial, runnable) if runnable else {}
    for trait, res in runnable.items():
        whole = res.animals
        valid = (whole["has_record"] & whole["animal"].isin(young)).to_numpy()
        rows = np.array([index[a] for a in whole["animal"][valid]])
        try:
            if isinstance(parts[trait], str):  # the partial evaluation refused this trait
                raise ValueError(parts[trait])
            stats = lr_statistics(whole["gebv"].to_numpy()[valid], parts[trait][valid],
                                  sigma_u2=res.variances.sigma_u2, spread=spread(rows))
        except ValueError as exc:  # named in the record, never a failed or silent run
            traits[trait] = {"n": int(valid.sum()),
                             "not_possible": f"{not_possible(int(valid.sum()))}; {exc}"}
            continue
        blockers = release_blockers(stats, max_bias_sd=rules.max_bias_sd,
                                    dispersion_range=rules.dispersion_range)
        traits[trait] = {**stats.as_record(), "blockers": blockers}
        reasons += [f"{trait}: {b}" for b in blockers]
    reasons += [f"{t}: validation.not_possible: {v['not_possible']}"
                for t, v in traits.items() if "not_possible" in v]
    return {
        "method": method,
        "settings": {"share": rules.share, "min_animals": rules.min_animals,
                     "max_bias_sd": rules.max_bias_sd,
                     "dispersion_range": list(rules.dispersion_range)},
        "cohort": {"birth_years": sorted({int(y) for y in birth_years[cohort]}),
                   "animals": len(cohort)},
        "traits": {t: traits[t] for t in (r.trait for r in results)},
        "trend": run_trend(results, born),
        "release": {"automatic": not reasons, "reasons": reasons},
    }


def _partial_gebvs(g: np.ndarray, ids: Sequence[str], partial: pd.DataFrame,
                   runnable: dict[str, TraitResult], *, min_records: int
                   ) -> dict[str, TraitResult | str]:
    """The partial run of each trait with the whole run's h2 — all traits in one call, so
    traits recorded on the same animals share one decomposition; if that call refuses, one
    trait at a time, so a trait that cannot be validated names why (the ``str``) alone."""
    h2 = {t: r.variances.h2 for t, r in runnable.items()}
    try:
        done = evaluate_traits(g, ids, partial, traits=list(runnable), h2=h2,
                               min_records=min_records)
        return {r.trait: r for r in done}
    except ValueError:
        pass
    out: dict[str, TraitResult | str] = {}
    for trait in runnable:
        try:
            (out[trait],) = evaluate_traits(g, ids, partial, traits=[trait], h2=h2,
                                            min_records=min_records)
        except ValueError as exc:
            out[trait] = str(exc)
    return out


def run_trend(results: Sequence[TraitResult | SingleStepResult],
              birth_years: pd.Series) -> list[dict]:
    """The mean GEBV per trait and birth year, as the run's record stores it (validated or
    not: a large-herd run that cannot be validated keeps its trend)."""
    if not results:
        return []
    long = pd.concat([r.animals[["animal", "trait", "gebv"]] for r in results])
    long["birth_year"] = long["animal"].map(birth_years).replace(0, np.nan)
    trend = genetic_trend(long)
    return [{"trait": r.trait, "birth_year": int(r.birth_year), "mean": round(float(r.mean), 4),
             "sd": None if pd.isna(r.sd) else round(float(r.sd), 4), "n": int(r.n)}
            for r in trend.itertuples()]


VALIDATION_COLUMNS = ["trait", "n", "bias", "bias_sd", "dispersion", "ratio_of_accuracies",
                      "accuracy_partial", "verdict"]


def validation_table(record: dict) -> pd.DataFrame:
    """One row per trait of a run's validation record (as the job notebook and ``reprotech
    eval run`` show it): the statistics, and ``verdict`` — "ok", the blockers, or "validation
    not possible: N animals". Empty for a run without a record (before migration 0018)."""
    rows = []
    for trait, stats in record.get("traits", {}).items():
        verdict = stats.get("not_possible") or "; ".join(stats.get("blockers", [])) or "ok"
        rows.append({"trait": trait, **{c: stats.get(c) for c in VALIDATION_COLUMNS[1:-1]},
                     "verdict": verdict})
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
