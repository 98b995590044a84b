"""Fertility and longevity phenotypes derived from the platform's own reproduction records.

A herd that records its services, diagnoses, calvings and exits on the platform already holds
the fertility and longevity records a genetic evaluation wants; typing them again from a herd
export would create a second, disagreeing copy. The derivation reuses the KPI definitions of
:mod:`reprotech_core.reproduction.kpis` — which service conceived
(:func:`~reprotech_core.reproduction.kpis.service_outcomes`) and each calving's conception
(:func:`~reprotech_core.reproduction.kpis.conceptions_after_calvings`) — so a cow's days open
here and in the herd's KPIs are one number. Exact rules: docs/reproduction.md, "Derived
phenotypes".

- ``days_open``: per calving with a conception before the next calving, days from calving
  to the conceiving service; recorded on the calving date.
- ``first_service_conception``: per calving, the first service after it (before the next
  calving): 1 if it conceived, 0 if not; no record while its outcome is unknown; recorded on
  the calving date.
- ``productive_life``: days from the cow's first calving to her exit; a cow still in the
  herd is censored and gets no record (a lower bound would bias the trait downward);
  recorded on the exit date.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from data_models.evaluation import Phenotype
from reprotech_core.records.performance_import import insert_phenotypes
from reprotech_core.records.traits import DERIVED_TRAITS
from reprotech_core.reproduction.kpis import (
    ReproFrames,
    conceptions_after_calvings,
    service_outcomes,
)
from reprotech_core.reproduction.queries import load_frames

COLUMNS = ("cow", "trait", "value", "recorded_on")


def derive_phenotypes(frames: ReproFrames) -> pd.DataFrame:
    """Per-cow fertility and longevity phenotypes (``cow``, ``trait``, ``value``,
    ``recorded_on``) from reproduction records, sorted by cow, trait and date."""
    outcomes = service_outcomes(frames.services, frames.diagnoses, frames.calvings)
    lact = conceptions_after_calvings(outcomes, frames.calvings, frames.exits)
    rows: list[tuple] = []
    for r in lact.itertuples():
        if not pd.isna(r.conception):
            rows.append((r.cow, "days_open", float((r.conception - r.calving).days),
                         r.calving.date()))
    by_cow = {cow: g for cow, g in outcomes.groupby("cow")}
    for r in lact.itertuples():
        served = by_cow.get(r.cow)
        if served is None:
            continue
        after = served[(served["date"] > r.calving)
                       & (pd.isna(r.next_calving) | (served["date"] < r.next_calving))]
        if after.empty:
            continue
        first = after.sort_values("date", kind="stable").iloc[0]
        if first["outcome"] != "unknown":
            rows.append((r.cow, "first_service_conception",
                         1.0 if first["outcome"] == "pregnant" else 0.0, r.calving.date()))
    first_calving = frames.calvings.groupby("cow")["date"].min()
    for cow, left in zip(frames.exits["cow"], frames.exits["date"], strict=True):
        start = first_calving.get(cow)
        if start is not None and start <= left:
            rows.append((cow, "productive_life", float((left - start).days), left.date()))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(["cow", "trait", "recorded_on"], ignore_index=True)


@dataclass(frozen=True)
class DeriveReport:
    new: int
    changed: int
    unchanged: int
    removed: int

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "changed": self.changed, "unchanged": self.unchanged,
                "removed": self.removed}


def write_derived(session: Session, customer_id: int) -> DeriveReport:
    """Store the customer's derived phenotypes in ``core.phenotypes`` (through the caller's
    session: row security and the audit apply). Idempotent: a value already stored is left
    alone, a value that changed (a corrected record) is updated, and a derived phenotype the
    records no longer give (a deleted service) is removed — the derived traits are owned by the
    derivation, never typed in."""
    derived = derive_phenotypes(load_frames(session, customer_id))
    want = {(int(r.cow), r.trait, r.recorded_on): float(r.value) for r in derived.itertuples()}
    stored = {(aid, trait, day): (pid, value) for pid, aid, trait, day, value in session.execute(
        select(Phenotype.id, Phenotype.animal_id, Phenotype.trait, Phenotype.recorded_on,
               Phenotype.value)
        .where(Phenotype.customer_id == customer_id, Phenotype.trait.in_(DERIVED_TRAITS)))}
    new = [{"customer_id": customer_id, "animal_id": k[0], "trait": k[1], "recorded_on": k[2],
            "value": v} for k, v in want.items() if k not in stored]
    changed = [(stored[k][0], v) for k, v in want.items() if k in stored and stored[k][1] != v]
    gone = [pid for k, (pid, _) in stored.items() if k not in want]
    if new:
        insert_phenotypes(session, new)
    for pid, value in changed:
        session.execute(update(Phenotype).where(Phenotype.id == pid).values(value=value))
    if gone:
        session.execute(delete(Phenotype).where(Phenotype.id.in_(gone)))
    return DeriveReport(len(new), len(changed), len(want) - len(new) - len(changed), len(gone))
