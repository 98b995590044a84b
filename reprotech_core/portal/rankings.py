"""Rankings by a customer-weighted selection index, the herd's genetic trend, and the herd's
GEBV distribution against the whole evaluated population (anonymised).

The population comparison is the one place the portal looks beyond the customer: it reads
every tenant's *released* GEBVs as the platform (the ``system`` actor, as the CLI and jobs do)
and returns only shares of animals per GEBV bin. No animal, herd or customer, and no count, leaves
this module, and below ``MIN_POPULATION_HERDS`` contributing customers nothing is returned at
all, so the comparison cannot be narrowed down to one other farm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text

from reprotech_core.db.session import Database
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal.cache import SHARED, KeyedCache
from reprotech_core.portal.herd import index_values

MIN_POPULATION_HERDS = 3
BINS = 30


def ranked(table: pd.DataFrame, weights: Mapping[str, float], *, sex: str | None = None,
           in_herd: bool = False) -> pd.DataFrame:
    """Animals with an index under ``weights``, best first, with ``rank`` (1 = best); animals
    lacking a weighted GEBV are left out (see ``unranked``); ``in_herd``: only those still in
    the herd (not sold, slaughtered or dead)."""
    if sex not in (None, "F", "M"):
        raise ValueError(f"sex must be 'F', 'M' or None, got {sex!r}")
    out = table.assign(index=index_values(table, weights))
    if sex is not None:
        out = out[out["sex"] == sex]
    if in_herd:
        out = out[out["status"] == "in herd"]
    out = out.dropna(subset=["index"]).sort_values("index", ascending=False, kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def unranked(table: pd.DataFrame, weights: Mapping[str, float], *, in_herd: bool = False) -> int:
    """How many animals (``in_herd``: of those in the herd) cannot be ranked (no GEBV for a
    weighted trait)."""
    if in_herd:
        table = table[table["status"] == "in herd"]
    return int(index_values(table, weights).isna().sum())


def genetic_trend(table: pd.DataFrame, traits: tuple[str, ...] = TRAITS) -> pd.DataFrame:
    """Mean GEBV (and the index) by birth year, long: ``birth_year, trait, mean, n``.

    Years with a single evaluated animal are kept but carry ``n`` so the plot can say so.
    """
    cols = [t for t in (*traits, "index") if t in table]
    have = table.dropna(subset=["birth_year"])
    if have.empty:
        return pd.DataFrame(columns=["birth_year", "trait", "mean", "n"])
    long = have.melt(id_vars=["birth_year"], value_vars=cols, var_name="trait",
                     value_name="gebv").dropna(subset=["gebv"])
    out = (long.groupby(["birth_year", "trait"])["gebv"].agg(["mean", "count"]).reset_index()
           .rename(columns={"count": "n"}))
    out["birth_year"] = out["birth_year"].astype(int)
    return out


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


def population_values(db: Database, trait: str) -> tuple[np.ndarray, int] | None:
    """Every released GEBV of ``trait`` of the newest released run, and how many customers
    contribute; read as the platform actor (see module docs) and never returned to a page."""
    if trait not in TRAITS:
        raise ValueError(f"unknown trait {trait!r}; traits are {list(TRAITS)}")
    with db.session(db.identity("system")) as s:
        rows = s.execute(text(
            """
            SELECT r.gebv, r.customer_id FROM core.evaluation_results r
             WHERE r.trait = :t AND r.released
               AND r.run_id = (SELECT max(run_id) FROM core.evaluation_results WHERE released)
            """), {"t": trait}).all()
    if not rows:
        return None
    values = np.array([r.gebv for r in rows], dtype=np.float64)
    return values, len({r.customer_id for r in rows})


def distribution(herd_gebvs: pd.Series, population: np.ndarray, trait: str,
                 *, bins: int = BINS) -> Distribution:
    """Bin the herd and the population on shared edges (pure)."""
    herd = herd_gebvs.dropna().to_numpy(dtype=np.float64)
    if len(herd) == 0 or len(population) == 0:
        raise ValueError(f"no GEBVs of {trait} to compare")
    lo, hi = float(min(population.min(), herd.min())), float(max(population.max(), herd.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    h, _ = np.histogram(herd, edges)
    p, _ = np.histogram(population, edges)
    mean = float(herd.mean())
    return Distribution(trait, edges, h / h.sum(), p / p.sum(), mean, float(population.mean()),
                        float((population < mean).mean() * 100.0))


def population_distribution(db: Database, herd_gebvs: pd.Series, trait: str, *,
                            cache: KeyedCache = SHARED) -> Distribution | None:
    """The herd against the anonymised population, or ``None`` when fewer than
    ``MIN_POPULATION_HERDS`` customers have released results (nothing to compare anonymously).
    The population's values are cached per process (one computation for every tenant)."""
    found = cache.get(("population", trait), lambda: population_values(db, trait))
    if found is None or found[1] < MIN_POPULATION_HERDS or herd_gebvs.dropna().empty:
        return None
    return distribution(herd_gebvs, found[0], trait)
