"""THE selection index and THE genetic trend: one rule for every page, report and command.

Selection index (Hazel 1943, with GEBVs as the information): ``I = sum_t w_t GEBV_t``, the
weights being economic values per trait unit (``settings.index_weights``, or a customer's
own on the rankings page, or ``reprotech eval gblup --index trait=w``).

**A missing GEBV.** An animal lacking a GEBV for any trait with a non-zero weight gets no
index (NaN): it is left out of the ranking and counted (:func:`unranked`), never ranked on the
traits it has. An index over fewer traits is a different index; ranked beside complete ones
it would put an animal ahead merely because a trait was not evaluated (with a negative weight,
such as days open, a missing GEBV would look like the best possible value). So a weighted
trait that has no GEBVs at all (not evaluated, too few records) leaves every animal unranked,
and the reader is told so instead of being shown a quietly different ranking. A trait weighted
zero does not count and may be missing.

**Bad weights** raise ``ValueError`` naming them: a weight for a trait that is not one of
``traits`` (a typo must not silently drop a trait), a non-finite weight, or no non-zero weight
at all (nothing to rank by).

**Ties** (equal indexes: clones, or animals predicted only through the same relatives) rank in
``tie_break`` order (official ID by default), so the portal, the herd report and the CLI put
the same animals in the same order.

Genetic trend: the mean GEBV (or index) of the animals born each year, with the SD and how
many animals each mean rests on, so a plot can say when a year has only one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from reprotech_core.evaluation.gblup import TRAITS

TREND_COLUMNS = ["trait", "birth_year", "mean", "sd", "n"]


def check_weights(weights: Mapping[str, float], *, traits: Collection[str] = TRAITS
                  ) -> dict[str, float]:
    """The weights that count (non-zero), in the given order, after refusing unknown traits,
    non-finite weights and an index with no non-zero weight (each named)."""
    unknown = sorted(set(weights) - set(traits))
    if unknown:
        raise ValueError(f"index weights for unknown traits {unknown} (no GEBVs for them); "
                         f"traits are {list(traits)}")
    bad = sorted(t for t, w in weights.items() if not np.isfinite(float(w)))
    if bad:
        raise ValueError(f"index weights must be finite numbers; not for {bad}")
    used = {t: float(w) for t, w in weights.items() if float(w) != 0.0}
    if not used:
        raise ValueError("the selection index needs at least one non-zero trait weight")
    return used


def index_values(table: pd.DataFrame, weights: Mapping[str, float], *,
                 traits: Collection[str] = TRAITS) -> pd.Series:
    """``I = sum_t w_t GEBV_t`` for each row of ``table`` (one GEBV column per trait); NaN
    where a weighted GEBV is missing or its column absent (see the module's rule)."""
    used = check_weights(weights, traits=traits)
    values = table.reindex(columns=list(used)).to_numpy(dtype=np.float64)
    return pd.Series(values @ np.fromiter(used.values(), np.float64, len(used)),
                     index=table.index, name="index")


def ranked(table: pd.DataFrame, weights: Mapping[str, float], *,
           traits: Collection[str] = TRAITS, tie_break: str = "official_id") -> pd.DataFrame:
    """The rows of ``table`` that have an index, best first: ``rank`` (1 = best) first, then
    ``table``'s columns with ``index`` set (added last when new); equal indexes in
    ``tie_break`` order. Rows without an index are left out (:func:`unranked` counts them)."""
    out = table.assign(index=index_values(table, weights, traits=traits))
    out = out.dropna(subset=["index"]).sort_values(["index", tie_break],
                                                   ascending=[False, True], kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def unranked(table: pd.DataFrame, weights: Mapping[str, float], *,
             traits: Collection[str] = TRAITS) -> int:
    """How many rows of ``table`` get no index (a GEBV of a weighted trait is missing)."""
    return int(index_values(table, weights, traits=traits).isna().sum())


def gebv_wide(results: pd.DataFrame, *, keys: Sequence[str] = ("animal",)) -> pd.DataFrame:
    """Long results (``keys``, ``trait``, ``gebv``) as one row per animal: ``keys`` then one
    GEBV column per trait (NaN where an animal has none), ready for :func:`ranked`."""
    if results.empty:
        return pd.DataFrame(columns=list(keys))
    wide = results.pivot(index=list(keys), columns="trait", values="gebv")
    wide.columns.name = None
    return wide.reset_index()


def genetic_trend(gebvs: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD and count of GEBVs per trait and birth year (``trait, birth_year, mean, sd,
    n``) from a long table with ``birth_year, trait, gebv``; animals without a birth year or
    a value are left out. Years with a single animal are kept: ``n`` says so."""
    known = gebvs.dropna(subset=["birth_year", "gebv"])
    if known.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    out = (known.groupby(["trait", "birth_year"])["gebv"].agg(["mean", "std", "count"])
           .reset_index().rename(columns={"std": "sd", "count": "n"}))
    out["birth_year"] = out["birth_year"].astype(int)
    return out[TREND_COLUMNS]
