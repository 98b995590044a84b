"""The likely sire of every calf whose recorded sire the evaluation run excluded.

The run's verification (:func:`reprotech_core.evaluation.parentage.verify_parents`) says a
recorded sire cannot be the sire; this names who is, by LOD score with the dam's genotype
where she is genotyped (:func:`reprotech_core.evaluation.sire_discovery.discover_sires`), and
the run stores the answer next to the exclusion (``parentage_results.suggested_parent_id``,
the LOD, its lead on the runner-up and the top candidates in ``note``), which the portal's
animal page shows.

**Candidates are the calf's own customer's genotyped bulls and the shared AI-sire catalogue**
(``customers.kind = 'reference'``) — never another customer's animals: naming a neighbour's
bull would tell one customer about another's herd (and ``core.check_catalogue_kind`` refuses
such a reference anyway). A true sire owned by another customer is therefore "no sire found",
which is the honest answer for this customer. Allele frequencies are the whole run's.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.evaluation.parentage import EXCLUDED
from reprotech_core.evaluation.sire_discovery import FOUND, discover_sires
from reprotech_core.genomics.snpmap import GenotypeSet

SUGGESTION_COLUMNS = ["animal", "suggested", "note"]


def suggest_sires(session: Session, geno: GenotypeSet, parentage: pd.DataFrame, *,
                  min_informative: int) -> pd.DataFrame:
    """``animal`` (id as str), ``suggested`` (the named bull's id as str, or None) and
    ``note`` (the discovery's status, LOD, lead and top candidates) for each animal whose
    recorded sire ``parentage`` excluded."""
    wanted = parentage[(parentage["role"] == "sire") & (parentage["status"] == EXCLUDED)]
    if wanted.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    typed = [str(a) for a in geno.samples]
    facts = pd.DataFrame(session.execute(text(
        """
        SELECT a.id::text AS id, a.official_id, a.customer_id, a.sex, a.birth_date,
               a.dam_id::text AS dam, c.kind = 'reference' AS catalogue
          FROM core.animals a JOIN core.customers c ON c.id = a.customer_id
         WHERE a.id = ANY(:ids)
        """), {"ids": [int(a) for a in typed]}).all(),
        columns=["id", "official_id", "customer_id", "sex", "birth_date", "dam", "catalogue"]
    ).set_index("id")
    named = facts["official_id"].to_dict()
    bulls = facts[facts["sex"] == "M"]
    catalogue = bulls.index[bulls["catalogue"]].tolist()
    offspring = facts.loc[[str(a) for a in wanted["animal"]]]
    out = []
    for customer, calves in offspring.groupby("customer_id"):
        candidates = [*bulls.index[~bulls["catalogue"] & (bulls["customer_id"] == customer)],
                      *catalogue]
        if not candidates:
            out += [(a, None, "sire discovery: no genotyped bull of this herd or the AI-sire "
                     "catalogue to compare") for a in calves.index]
            continue
        found = discover_sires(geno, calves.index.tolist(), candidates,
                               birth_dates=facts["birth_date"].dropna().to_dict(),
                               dams=calves["dam"].to_dict(), min_informative=min_informative)
        out += [(r.animal, r.sire if r.status == FOUND else None, _note(r, named))
                for r in found.itertuples()]
    return pd.DataFrame(out, columns=SUGGESTION_COLUMNS)


def _note(r, named: dict[str, str]) -> str:
    """What the parentage record says about the discovery, bulls by official ID: enough for
    a person to judge it by."""
    if pd.isna(r.lod):
        return f"sire discovery: {r.status} ({r.n_candidates} eligible bulls)"
    trio = "trio with the dam" if r.trio else "pair (dam not genotyped or not used)"
    top = "; ".join(f"{named.get(bull, bull)} {lod}" for bull, lod in
                    (entry.rsplit(" ", 1) for entry in r.top_candidates.split("; ") if entry))
    return (f"sire discovery: {r.status}; LOD {r.lod:.1f}, lead {r.delta_lod:.1f} over the "
            f"runner-up; {trio}; {r.n_candidates} eligible bulls; top: {top}")
