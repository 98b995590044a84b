"""Genetics over time for the herd overview: the herd's genetic trend per birth year (every
trait's GEBV and the selection index), its inbreeding trend, its average gain per year, and
where the herd stands against the anonymised population.

Everything is shaped from the herd table (:func:`reprotech_core.portal.herd.herd_table`), so
the values are the customer's newest *released* evaluation, and inbreeding comes from the same
run. The trend is :func:`reprotech_core.results.index.genetic_trend` (one rule for every page,
the herd report and the CLI): mean, SD and number of animals per birth year; animals that left
the herd count in their birth year's cohort, because the trend is the herd's breeding history.

The population comparison is the one read beyond the customer, and it goes only through the
database's anonymous aggregate ``core.population_gebv_bins`` (``SECURITY DEFINER``, migrations
0010 and 0020) called from the reader's own session
(:func:`reprotech_core.portal.rankings.population_distribution`): it returns the population
mean and the share of the population below the herd's mean, nothing at all below three
contributing customers. "The herd" there is the animals still in it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import rankings
from reprotech_core.results import index

#: What the inbreeding trend trends: the herd table's column and the words for it.
INBREEDING = {"f_genomic": "genomic", "f_pedigree": "pedigree"}

TREND_COLUMNS = index.TREND_COLUMNS  # trait, birth_year, mean, sd, n
INBREEDING_COLUMNS = ["measure", "birth_year", "mean", "sd", "n"]
GAIN_COLUMNS = ["trait", "gain_per_year", "first_year", "last_year", "n"]
STANDING_COLUMNS = ["trait", "animals", "herd_mean", "population_mean", "difference",
                    "share_below"]


def genetic_trend(table: pd.DataFrame, traits: tuple[str, ...] = TRAITS) -> pd.DataFrame:
    """Mean GEBV (and index) per birth year of the herd table's animals: ``trait, birth_year,
    mean, sd, n``, the trait ``index`` being the selection index of the table's weights (the
    same rule as the rankings page), in ``traits`` order then the index."""
    trend = rankings.herd_trend(table, traits)
    order = {t: k for k, t in enumerate((*traits, "index"))}
    return trend.sort_values(["trait", "birth_year"], key=lambda c: c.map(order)
                             if c.name == "trait" else c, kind="stable").reset_index(drop=True)


def inbreeding_trend(table: pd.DataFrame) -> pd.DataFrame:
    """Mean genomic and pedigree inbreeding per birth year (``measure`` = ``genomic`` or
    ``pedigree``, ``birth_year, mean, sd, n``) of the animals with a value in the released
    run; animals without a birth year or a value are left out."""
    cols = [c for c in INBREEDING if c in table]
    if table.empty or not cols:
        return pd.DataFrame(columns=INBREEDING_COLUMNS)
    long = table.melt(id_vars=["birth_year"], value_vars=cols, var_name="trait",
                      value_name="gebv")
    long["gebv"] = pd.to_numeric(long["gebv"], errors="coerce")
    out = index.genetic_trend(long).rename(columns={"trait": "measure"})
    out["measure"] = out["measure"].map(INBREEDING)
    return out[INBREEDING_COLUMNS].sort_values(["measure", "birth_year"], kind="stable") \
        .reset_index(drop=True)


def annual_gain(table: pd.DataFrame, traits: tuple[str, ...] = TRAITS) -> pd.DataFrame:
    """The average genetic gain per year for each trait and the index: the least-squares slope
    of the animals' GEBVs on their birth year (each animal counts once, so a year with many
    animals weighs more than a year with one). Traits whose evaluated animals span fewer than
    two birth years are left out: one year has no trend."""
    rows = []
    for trait in (*traits, "index"):
        if trait not in table:
            continue
        known = table[["birth_year", trait]].dropna()
        years = known["birth_year"].to_numpy(dtype=np.float64)
        if len(np.unique(years)) < 2:
            continue
        values = known[trait].to_numpy(dtype=np.float64)
        slope = float(np.polyfit(years, values, 1)[0])
        rows.append((trait, slope, int(years.min()), int(years.max()), len(known)))
    return pd.DataFrame(rows, columns=GAIN_COLUMNS)


def population_standing(session: Session, table: pd.DataFrame,
                        traits: tuple[str, ...] = TRAITS) -> pd.DataFrame:
    """Where the herd (animals still in it) stands against every customer's newest released
    GEBVs, per trait: ``animals`` (the herd's, with a GEBV), ``herd_mean``,
    ``population_mean``, ``difference`` and ``share_below`` (the share of the population's
    animals below the herd's mean, 0-1). Only through the anonymous aggregate, in the reader's
    ``session``; a trait the herd has no GEBV for, or for which the population has fewer than
    three customers, has no row (so the frame may be empty)."""
    present = table[table["status"] == "in herd"] if "status" in table else table
    rows = []
    for trait in traits:
        if trait not in present:
            continue
        values = present[trait].dropna()
        d = rankings.population_distribution(session, values, trait)
        if d is None:
            continue
        rows.append((trait, len(values), d.herd_mean, d.population_mean,
                     d.herd_mean - d.population_mean, d.herd_percentile / 100.0))
    return pd.DataFrame(rows, columns=STANDING_COLUMNS)
