"""Rankings by a customer-weighted selection index, the herd's genetic trend, and the herd's
GEBV distribution against the whole evaluated population (anonymised).

The index, its rule for a missing GEBV and the trend are :mod:`reprotech_core.results.index`'s
(the herd report and the CLI rank with the same); this module adds the portal's choices: cows
or bulls only, animals still in the herd only, and the index trended beside the traits.

The population comparison is the one place the portal looks beyond the customer. The
database does it (``core.population_gebv_bins``, a ``SECURITY DEFINER`` aggregate, migration
0010): called from the signed-in customer's own session, it bins every tenant's *released*
GEBVs and returns only shares of animals per bin, the population mean and the share below the
herd's mean. No animal, herd, customer or count reaches the service, and below
``MIN_POPULATION_HERDS`` (3) contributing customers it returns nothing, so the comparison
cannot be narrowed down to one other farm. The service needs no platform session for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text

from sqlalchemy.orm import Session

from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.results import index

MIN_POPULATION_HERDS = 3  # enforced in core.population_gebv_bins
BINS = 30


def _chosen(table: pd.DataFrame, sex: str | None, in_herd: bool) -> pd.DataFrame:
    if sex not in (None, "F", "M"):
        raise ValueError(f"sex must be 'F', 'M' or None, got {sex!r}")
    if sex is not None:
        table = table[table["sex"] == sex]
    return table[table["status"] == "in herd"] if in_herd else table


def ranked(table: pd.DataFrame, weights: Mapping[str, float], *, sex: str | None = None,
           in_herd: bool = False) -> pd.DataFrame:
    """Animals of the herd table with an index under ``weights``, best first, with ``rank``
    (1 = best); animals lacking a weighted GEBV are left out (see ``unranked``); ``sex``: cows
    (``F``) or bulls (``M``) only; ``in_herd``: only those still in the herd (not sold,
    slaughtered or dead)."""
    return index.ranked(_chosen(table, sex, in_herd), weights)


def unranked(table: pd.DataFrame, weights: Mapping[str, float], *, in_herd: bool = False) -> int:
    """How many animals (``in_herd``: of those in the herd) cannot be ranked (no GEBV for a
    weighted trait)."""
    return index.unranked(_chosen(table, None, in_herd), weights)


def herd_trend(table: pd.DataFrame, traits: tuple[str, ...] = TRAITS) -> pd.DataFrame:
    """The herd table's genetic trend (:func:`reprotech_core.results.index.genetic_trend`) of
    each trait's GEBV and of the ``index``: ``trait, birth_year, mean, sd, n``."""
    cols = [t for t in (*traits, "index") if t in table]
    long = table.melt(id_vars=["birth_year"], value_vars=cols, var_name="trait",
                      value_name="gebv")
    return index.genetic_trend(long)


@dataclass(frozen=True)
class Distribution:
    """Shares of animals per GEBV bin, for the herd and for the population (same edges)."""

    trait: str
    edges: np.ndarray
    herd: np.ndarray  # share of the herd's animals per bin (sums to 1)
    population: np.ndarray  # share of the population's animals per bin (sums to 1)
    herd_mean: float
    population_mean: float
    herd_percentile: float  # where the herd's mean GEBV lies in the population, 0-100


def population_distribution(session: Session, herd_gebvs: pd.Series, trait: str, *,
                            bins: int = BINS) -> Distribution | None:
    """The herd against the anonymised population on shared edges (spanning both), or
    ``None`` when fewer than ``MIN_POPULATION_HERDS`` customers have released results or the
    herd has no GEBV of ``trait``. ``session`` is the reader's own."""
    if trait not in TRAITS:
        raise ValueError(f"unknown trait {trait!r}; traits are {list(TRAITS)}")
    herd = herd_gebvs.dropna().to_numpy(dtype=np.float64)
    if len(herd) == 0:
        return None
    mean = float(herd.mean())
    rows = session.execute(text(
        "SELECT lo, hi, bin, share, population_mean, share_below "
        "FROM core.population_gebv_bins(:t, :lo, :hi, :bins, :value)"),
        {"t": trait, "lo": float(herd.min()), "hi": float(herd.max()), "bins": bins,
         "value": mean}).all()
    if not rows:
        return None
    edges = np.linspace(rows[0].lo, rows[0].hi, bins + 1)
    counts, _ = np.histogram(herd, edges)
    return Distribution(trait, edges, counts / counts.sum(),
                        np.array([r.share for r in rows], dtype=np.float64), mean,
                        float(rows[0].population_mean), float(rows[0].share_below) * 100.0)
