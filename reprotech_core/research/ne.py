"""Realised effective population size from the individual increase in pedigree inbreeding.

Gutiérrez et al. (2008, 2009): with ``F_i`` (Meuwissen & Luo 1992) and ``t_i`` the equivalent
complete generations of animal ``i``'s pedigree (Maignel et al. 1996: the sum over known
ancestors of ``(1/2)^g``, ``g`` generations back), the individual increase in inbreeding is
``dF_i = 1 - (1 - F_i)^(1 / (t_i - 1))`` and ``Ne = 1 / (2 mean dF)``. Unlike the regression
of F on birth year it needs no generation interval and accounts for how deep each animal's
pedigree is known. Animals with ``t_i <= 1`` carry no information on the rate and are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprotech_core.evaluation.pedigree import (
    OrderedPedigree,
    inbreeding_meuwissen_luo,
    order_pedigree,
)

from .diversity import Analysis
from .provenance import record


def equivalent_generations(ped: OrderedPedigree) -> np.ndarray:
    """Equivalent complete generations per animal: ``t_i = sum_p (1 + t_p) / 2`` over known
    parents ``p`` (each parent is half a generation's worth of the animal's ancestry)."""
    t = np.zeros(len(ped.ids))
    for i in range(len(ped.ids)):  # parents precede offspring
        for p in (ped.sire[i], ped.dam[i]):
            if p >= 0:
                t[i] += 0.5 * (1.0 + t[p])
    return t


def realized_ne(pedigree: pd.DataFrame, *, by: str | None = None,
                snapshot: str = "in-memory") -> Analysis:
    """Ne from individual increase in inbreeding, overall or per value of column ``by``.

    ``pedigree`` has ``animal, sire, dam`` (pseudonyms or IDs; unknown parents empty) and
    ``by`` when given (e.g. ``birth_year``). Returns rows ``group, n_animals, mean_f,
    mean_equivalent_generations, mean_delta_f, ne`` (``ne`` NaN when no inbreeding has
    accumulated: the pedigree cannot tell).
    """
    ped = order_pedigree(pedigree, add_missing_parents=True)
    f = inbreeding_meuwissen_luo(ped)
    t = equivalent_generations(ped)
    info = pd.DataFrame({"animal": ped.ids, "f": f, "t": t})
    table = pedigree.assign(animal=pedigree["animal"].astype(str)).merge(info, on="animal")
    informative = table[table["t"] > 1.0].copy()
    if informative.empty:
        raise ValueError("no animal has more than one equivalent complete generation of "
                         "known pedigree: the inbreeding rate cannot be estimated")
    informative["delta_f"] = 1.0 - (1.0 - informative["f"]) ** (1.0 / (informative["t"] - 1.0))
    groups = [("all", informative)]
    if by is not None:
        if by not in pedigree.columns:
            raise ValueError(f"pedigree has no column {by!r}")
        groups += [(str(k), g) for k, g in informative.groupby(by)]
    rows = []
    for name, g in groups:
        mdf = float(g["delta_f"].mean())
        rows.append({"group": name, "n_animals": len(g), "mean_f": float(g["f"].mean()),
                     "mean_equivalent_generations": float(g["t"].mean()),
                     "mean_delta_f": mdf, "ne": 1.0 / (2.0 * mdf) if mdf > 0 else float("nan")})
    prov = record("realized_ne", snapshot=snapshot, inputs={"pedigree": pedigree},
                  parameters={"by": by})
    return Analysis(pd.DataFrame(rows), prov)
