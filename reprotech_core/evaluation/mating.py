"""Mating advice: expected progeny merit and inbreeding, and an optimal allocation.

The expected breeding value of a calf is the parents' mean, ``(EBV_sire + EBV_dam) / 2``
(or the mean of their selection indices), and its expected inbreeding the parents' coancestry,
``F_calf = G_sd / 2`` from the genomic relationship (VanRaden 2008; Sun et al. 2013 use the
same genomic coancestry in mate allocation).

The allocation gives every cow one bull, maximising total expected progeny merit, with no
mating whose expected inbreeding exceeds ``max_inbreeding`` and no bull used more than
``max_matings_per_bull`` times. It is an assignment problem: each bull's column is replicated
``max_matings_per_bull`` times and forbidden pairs get infinite cost, then
:func:`scipy.optimize.linear_sum_assignment` (Crouse 2016) finds the exact optimum in
polynomial time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def _indices(ids: Sequence[str], wanted: Sequence[str], what: str) -> np.ndarray:
    index = {a: i for i, a in enumerate(ids)}
    missing = [a for a in wanted if a not in index]
    if missing:
        raise ValueError(f"{len(missing)} {what} have no genomic relationships, e.g. {missing[:5]}")
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"{what} are listed more than once")
    return np.array([index[a] for a in wanted], dtype=np.int64)


def progeny_table(
    g: np.ndarray,
    ids: Sequence[str],
    merit: pd.Series,
    *,
    cows: Sequence[str],
    bulls: Sequence[str],
) -> pd.DataFrame:
    """Every cow x bull pair: ``cow, bull, progeny_merit, progeny_inbreeding``.

    ``merit`` is indexed by animal (a GEBV or a selection index) and must cover cows and bulls.
    """
    if len(cows) == 0 or len(bulls) == 0:
        raise ValueError("need at least one cow and one bull")
    ci, bi = _indices(ids, cows, "cows"), _indices(ids, bulls, "bulls")
    lacking = [a for a in [*cows, *bulls] if a not in merit.index or pd.isna(merit.get(a))]
    if lacking:
        raise ValueError(f"{len(lacking)} animals have no merit value, e.g. {lacking[:5]}")
    m_cow = merit.loc[list(cows)].to_numpy(dtype=np.float64)
    m_bull = merit.loc[list(bulls)].to_numpy(dtype=np.float64)
    coancestry = np.asarray(g)[np.ix_(ci, bi)].astype(np.float64) / 2.0
    return pd.DataFrame({
        "cow": np.repeat(list(cows), len(bulls)),
        "bull": np.tile(list(bulls), len(cows)),
        "progeny_merit": ((m_cow[:, None] + m_bull[None, :]) / 2.0).ravel(),
        "progeny_inbreeding": coancestry.ravel(),
    })


def allocate_matings(
    g: np.ndarray,
    ids: Sequence[str],
    merit: pd.Series,
    *,
    cows: Sequence[str],
    bulls: Sequence[str],
    max_inbreeding: float,
    max_matings_per_bull: int,
) -> pd.DataFrame:
    """Optimal one-bull-per-cow plan (see module docs).

    Returns ``cow, bull, progeny_merit, progeny_inbreeding`` for every cow.

    Raises
    ------
    ValueError
        Unknown animals, bad limits, or no feasible plan: fewer bull slots than cows, or some
        cows have no (or not enough distinct) bulls within the inbreeding limit; the message
        names the cows that cannot be mated.
    """
    if max_matings_per_bull < 1:
        raise ValueError(f"max_matings_per_bull must be >= 1, got {max_matings_per_bull}")
    if not np.isfinite(max_inbreeding):
        raise ValueError("max_inbreeding must be a finite number")
    pairs = progeny_table(g, ids, merit, cows=cows, bulls=bulls)
    nc, nb = len(cows), len(bulls)
    if nc > nb * max_matings_per_bull:
        raise ValueError(f"infeasible: {nc} cows but only {nb} bulls x {max_matings_per_bull} "
                         f"matings = {nb * max_matings_per_bull} slots")
    merit_m = pairs["progeny_merit"].to_numpy().reshape(nc, nb)
    allowed = pairs["progeny_inbreeding"].to_numpy().reshape(nc, nb) <= max_inbreeding
    no_bull = [cows[i] for i in np.flatnonzero(~allowed.any(axis=1))]
    if no_bull:
        raise ValueError(f"infeasible: {len(no_bull)} cows have no bull with expected progeny "
                         f"inbreeding <= {max_inbreeding}, e.g. {no_bull[:5]}")
    # Maximise merit = minimise (max - merit) >= 0; forbidden pairs cost infinity.
    cost = np.where(allowed, merit_m.max() - merit_m, np.inf)
    cost = np.repeat(cost, max_matings_per_bull, axis=1)
    try:
        rows, cols = linear_sum_assignment(cost)
    except ValueError as exc:  # scipy: "cost matrix is infeasible"
        raise ValueError(f"infeasible: the inbreeding limit {max_inbreeding} and "
                         f"{max_matings_per_bull} matings per bull cannot cover all {nc} cows "
                         "(too many cows share the few allowed bulls)") from exc
    bull_idx = cols // max_matings_per_bull
    flat = rows * nb + bull_idx
    plan = pairs.iloc[flat].reset_index(drop=True)
    return plan
