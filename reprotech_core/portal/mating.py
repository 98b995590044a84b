"""Mating advice for a customer: which cows and bulls can be planned, and the optimal plan.

Merit is the customer's selection index of released GEBVs (:mod:`reprotech_core.results`: each
animal's customer's newest released run, and the one index with its rule for a missing GEBV:
an animal without every weighted GEBV is not offered). The bulls are the customer's own
evaluated males and the evaluated bulls of the shared AI-sire catalogue. Expected progeny
inbreeding is half the parents' relationship; the portal uses the *pedigree* relationship
(Wright's A, tabular method) over the ancestors the customer may see, because catalogue bulls'
genotypes are not the customer's to read. The plan itself is
:func:`reprotech_core.evaluation.mating.allocate_matings` (an exact assignment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.evaluation.mating import allocate_matings, progeny_table
from reprotech_core.evaluation.pedigree import numerator_relationship_matrix, order_pedigree
from reprotech_core.results.index import gebv_wide, ranked
from reprotech_core.results.released import released_results

MAX_COWS = 300
MAX_BULLS = 60
MAX_PEDIGREE = 4000  # animals in the relationship matrix (n^2 memory)


def candidate_bulls(session: Session, customer_id: int, weights: Mapping[str, float]
                    ) -> pd.DataFrame:
    """Evaluated bulls the customer may use: own males and catalogue sires, best first
    (``id, official_id, name, source, index``)."""
    bulls = pd.DataFrame(session.execute(text(
        """
        SELECT a.id, a.name, a.customer_id,
               CASE WHEN c.kind = 'reference' THEN 'AI catalogue' ELSE 'own herd' END AS source
          FROM core.animals a JOIN core.customers c ON c.id = a.customer_id
         WHERE a.sex = 'M' AND (a.customer_id = :c OR c.kind = 'reference')
        """), {"c": customer_id}).all(), columns=["id", "name", "customer_id", "source"])
    keys = ["id", "official_id", "name", "source"]
    if bulls.empty:
        return pd.DataFrame(columns=[*keys, "index"])
    results = released_results(session, bulls["customer_id"].unique().tolist())
    gebvs = gebv_wide(results[results["animal"].isin(bulls["id"])],
                      keys=("animal", "official_id"))
    if gebvs.empty:
        return pd.DataFrame(columns=[*keys, "index"])
    wide = gebvs.rename(columns={"animal": "id"}).merge(bulls[["id", "name", "source"]], on="id")
    return ranked(wide, weights)[[*keys, "index"]]


def visible_pedigree(session: Session, animals: Sequence[int]) -> pd.DataFrame:
    """``animal, sire, dam`` (ids as text) of ``animals`` and all their visible ancestors."""
    rows = session.execute(text(
        """
        WITH RECURSIVE up(id) AS (
          SELECT unnest(CAST(:ids AS bigint[]))
          UNION
          SELECT p.pid FROM up JOIN core.animals a ON a.id = up.id,
                 LATERAL (VALUES (a.sire_id), (a.dam_id)) AS p(pid)
           WHERE p.pid IS NOT NULL
        )
        SELECT a.id, a.sire_id, a.dam_id FROM core.animals a JOIN up ON up.id = a.id
        """), {"ids": list(animals)}).all()
    visible = {r.id for r in rows}

    def parent(pid: int | None) -> str | None:  # an unseen ancestor counts as unknown
        return str(pid) if pid is not None and pid in visible else None

    return pd.DataFrame({"animal": [str(r.id) for r in rows],
                         "sire": [parent(r.sire_id) for r in rows],
                         "dam": [parent(r.dam_id) for r in rows]})


@dataclass(frozen=True)
class MatingPlan:
    plan: pd.DataFrame  # cow, bull, progeny_merit, progeny_inbreeding (official ids)
    pairs: pd.DataFrame  # every cow x bull pair, same columns
    mean_merit: float
    mean_inbreeding: float


def plan_matings(session: Session, cows: pd.DataFrame, bulls: pd.DataFrame, *,
                 max_inbreeding: float, max_matings_per_bull: int) -> MatingPlan:
    """The optimal plan for the chosen ``cows`` and ``bulls`` (frames with ``id,
    official_id, index``). Raises ``ValueError`` naming the problem (too many animals, an
    infeasible limit) for the page to show."""
    if cows.empty or bulls.empty:
        raise ValueError("choose at least one cow and one bull")
    if len(cows) > MAX_COWS or len(bulls) > MAX_BULLS:
        raise ValueError(f"plan at most {MAX_COWS} cows and {MAX_BULLS} bulls at a time "
                         f"(chosen: {len(cows)} cows, {len(bulls)} bulls)")
    if not 0 <= max_inbreeding <= 1:
        raise ValueError(f"the inbreeding limit must be between 0 and 1, got {max_inbreeding}")
    ids = [int(i) for i in (*cows["id"], *bulls["id"])]
    ped = visible_pedigree(session, ids)
    if len(ped) > MAX_PEDIGREE:
        raise ValueError(f"the chosen animals have {len(ped)} recorded ancestors; choose fewer "
                         f"animals (at most {MAX_PEDIGREE} in one plan)")
    ordered = order_pedigree(ped)
    a = numerator_relationship_matrix(ordered)
    keys = [str(i) for i in ids]
    pos = ordered.index()
    sub = a[np.ix_([pos[k] for k in keys], [pos[k] for k in keys])]
    merit = pd.Series([*cows["index"], *bulls["index"]], index=keys, dtype=np.float64)
    cow_keys, bull_keys = keys[:len(cows)], keys[len(cows):]
    names = dict(zip(keys, [*cows["official_id"], *bulls["official_id"]], strict=True))
    plan = allocate_matings(sub, keys, merit, cows=cow_keys, bulls=bull_keys,
                            max_inbreeding=max_inbreeding,
                            max_matings_per_bull=max_matings_per_bull)
    pairs = progeny_table(sub, keys, merit, cows=cow_keys, bulls=bull_keys)
    for frame in (plan, pairs):
        frame["cow"] = frame["cow"].map(names)
        frame["bull"] = frame["bull"].map(names)
    return MatingPlan(plan, pairs, float(plan["progeny_merit"].mean()),
                      float(plan["progeny_inbreeding"].mean()))
