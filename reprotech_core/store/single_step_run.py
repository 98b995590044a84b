"""Single-step in a stored evaluation run: the run's pedigree, H-inverse and the traits' solves.

A run evaluates by single-step GBLUP (:mod:`reprotech_core.evaluation.single_step`) when the
evaluated customers have animals that are not genotyped (``EvaluationInputs.others``): their
records and their genotyped relatives' records then inform each other, and they get values
too. The variance components are those REML estimated on the genotyped animals (the GBLUP of
the same trait, run first): one set for both models, and the run's REML stays the measured
one (O(n^3) in the genotyped, never in the whole pedigree). With no non-genotyped animal the
run stays GBLUP of the genotyped alone, unchanged.

Bad input never makes a silently smaller evaluation: a pedigree or G that makes H unusable
fails the run, naming the rule (``single_step.<rule>``); a trait whose single-step solve is
refused is an exclusion with its rule in the run's ``skipped_traits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.errors import RuleViolation
from reprotech_core.evaluation.gblup import TraitResult
from reprotech_core.evaluation.single_step import (
    UNKNOWN_PARENTS,
    HInverse,
    SingleStepError,
    SingleStepResult,
    h_inverse,
    single_step_gblup,
)

METHOD = ("single-step GBLUP (H-inverse: sparse A-inverse, VanRaden (2008) G aligned to A22 "
          "and blended), variance components by REML on the genotyped")


def rule_of(exc: SingleStepError) -> str:
    """The run record's name of a single-step rule (``single_step.<rule>``)."""
    return f"single_step.{exc.rule}"


@dataclass(frozen=True)
class RunPedigree:
    """The pedigree single-step solves over: genotyped and non-genotyped animals, parents
    outside it unknown."""

    table: pd.DataFrame  # animal, sire, dam (str IDs; None = unknown)
    parents_outside: int  # recorded parents whose row the run cannot read: unknown here


def run_pedigree(genotyped: pd.DataFrame, others: pd.DataFrame) -> RunPedigree:
    """``animal, sire, dam`` of the genotyped and the non-genotyped animals of the run.

    A recorded parent without a row in the run (not readable in the session) is treated as
    unknown, i.e. a founder of the base population, and counted."""
    both = pd.concat([genotyped[["id", "sire_id", "dam_id"]], others[["id", "sire_id", "dam_id"]]],
                     ignore_index=True)
    ids = set(both["id"].astype(int))
    outside = 0

    def parent(value: object) -> str | None:
        nonlocal outside
        if value is None or pd.isna(value):
            return None
        if int(value) not in ids:
            outside += 1
            return None
        return str(int(value))

    table = pd.DataFrame({"animal": both["id"].astype(int).astype(str),
                          "sire": [parent(v) for v in both["sire_id"]],
                          "dam": [parent(v) for v in both["dam_id"]]})
    return RunPedigree(table, outside)


def build_h_inverse(pedigree: RunPedigree, g: np.ndarray, ids: Sequence[str], *,
                    blend: float) -> HInverse:
    """H-inverse of the run; a bad pedigree or G fails the run naming the rule
    (``RuleViolation`` ``single_step.<rule>``, e.g. ``single_step.g_not_positive_definite``)."""
    try:
        return h_inverse(pedigree.table, g, ids, blend=blend)
    except SingleStepError as exc:
        raise RuleViolation(rule_of(exc), f"single-step refused the run's data: {exc}") from exc


def solve_traits(hinv: HInverse, records: pd.DataFrame, results: Sequence[TraitResult], *,
                 min_records: int) -> tuple[list[SingleStepResult], dict[str, str]]:
    """Single-step of every trait GBLUP evaluated, with GBLUP's REML variance components.

    Returns the results and the excluded traits with their rule (never dropped silently)."""
    solved, excluded = [], {}
    for res in results:
        try:
            solved.append(single_step_gblup(hinv, records, res.trait, variances=res.variances,
                                            min_records=min_records))
        except SingleStepError as exc:
            excluded[res.trait] = f"{rule_of(exc)}: {exc}"
    return solved, excluded


def partial_solves(hinv: HInverse, partial: pd.DataFrame,
                   variances: Mapping[str, object], *, min_records: int
                   ) -> dict[str, SingleStepResult | str]:
    """The validation's partial run by the same method: single-step on the partial records
    with the whole run's variance components (same ``sigma_e^2 / sigma_u^2``, so the partial
    values are the whole model's on less data). A refused trait names why (the ``str``)."""
    out: dict[str, SingleStepResult | str] = {}
    for trait, vc in variances.items():
        try:
            out[trait] = single_step_gblup(hinv, partial, trait, variances=vc,
                                           min_records=min_records)
        except SingleStepError as exc:
            out[trait] = f"{rule_of(exc)}: {exc}"
    return out


def run_record(hinv: HInverse, pedigree: RunPedigree, n_genotyped: int, others: pd.DataFrame,
               solved: Sequence[SingleStepResult]) -> dict:
    """What the run's ``parameters`` say about single-step (JSON-ready)."""
    stored = int(others["stored"].sum())
    return {
        "method": METHOD,
        "animals_genotyped": n_genotyped,
        "animals_non_genotyped": stored,
        "ancestors_not_stored": len(others) - stored,
        "blend": hinv.blend,
        "alignment": None if hinv.alignment is None else {
            "alpha": round(hinv.alignment.alpha, 6), "beta": round(hinv.alignment.beta, 6)},
        "unknown_parents": {"handling": UNKNOWN_PARENTS,
                            "animals_with_an_unknown_parent": hinv.n_unknown_parent,
                            "recorded_parents_outside_the_run": pedigree.parents_outside},
        "solver": sorted({r.solver for r in solved}),
        "reliability_method": sorted({r.reliability_method for r in solved}),
    }
