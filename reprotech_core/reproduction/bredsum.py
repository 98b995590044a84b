"""The herd's breeding summary (after DairyComp 305's BREDSUM and its pregnancy-status chart) as
pure functions over the KPI frames (definitions: docs/reproduction.md, "Breeding summary").

- :func:`cycle_table`: the classic 21-day cycle table of the last year — per herd cycle, the
  cows eligible, bred and pregnant, with submission (heat-detection), conception and 21-day
  pregnancy rates;
- :func:`pregnancy_status`: each cow in the herd with her days in milk and status today;
- :func:`calving_intervals`, :func:`age_at_first_calving`: the distributions' values per cow;
- :func:`breeding_summary`: all of it, and the conception-rate breakdowns, for one page load.

Eligibility follows :func:`~reprotech_core.reproduction.kpis.pregnancy_cycles` (from calving +
the voluntary waiting period until conception or exit, the conception cycle included, a cow
that left open only for cycles she was in the herd for), but the cycles are the *herd's*
calendar cycles ending today, as BREDSUM prints them, so every cow shares each row (the KPI
aligns cycles to each cow's own waiting-period end; Ferguson & Galligan 1999 describe both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from reprotech_core.reproduction.kpis import (
    CYCLE_DAYS,
    VOLUNTARY_WAITING_DAYS,
    ReproFrames,
    conceptions_after_calvings,
    kpi_breakdown_from,
    service_outcomes,
)

CYCLES_PER_YEAR = 17  # 17 x 21 = 357 days: the last year in whole cycles
CYCLE_COLUMNS = ("cycle_start", "cycle_end", "eligible", "bred", "heats", "pregnant", "pending",
                 "submission_rate", "conception_rate", "pregnancy_rate")
STATUSES = ("open", "bred", "pregnant")
STATUS_COLUMNS = ("cow", "official_id", "herd", "lactation", "days_in_milk", "status",
                  "services", "last_service")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def cycle_table(outcomes: pd.DataFrame, lactations: pd.DataFrame, *, as_of: date,
                vwp_days: int = VOLUNTARY_WAITING_DAYS,
                cycles: int = CYCLES_PER_YEAR, heats: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """The 21-day cycle table: ``cycles`` herd cycles, oldest first, the last ending on
    ``as_of`` (``cycle_end`` is the cycle's last day).

    In a cycle [k, k + 21) a lactation (``conceptions_after_calvings``) is *eligible* when the
    waiting period ended by k (calving + ``vwp_days`` <= k), she had not conceived before k,
    had not calved again by k, and — unless she conceived in the cycle — was in the herd for
    the whole cycle. *Bred*: eligible cows served in the cycle. *Heats*: eligible cows not
    served in the cycle but seen in heat in it (``heats``: cow, date). *Pregnant*: eligible cows
    whose conceiving service falls in it. *Pending*: bred cows, not pregnant, whose service in
    the cycle has no known outcome yet. Submission (heat-detection) rate = (bred + heats) /
    eligible: a cow is submitted when she was served or her heat was seen; conception rate =
    pregnant / (bred - pending), since an unknown outcome is left out of every rate as for the
    herd's conception rate; pregnancy rate = pregnant / eligible (low in the newest cycles
    while their services are pending: the ``pending`` column says how many).
    """
    end = pd.Timestamp(as_of)
    by_cow = {cow: list(zip(g["date"], g["outcome"], strict=True))
              for cow, g in outcomes.sort_values("date").groupby("cow")}
    wait = pd.Timedelta(days=vwp_days)
    step = pd.Timedelta(days=CYCLE_DAYS)
    seen = ({} if heats is None else
            {cow: sorted(set(g)) for cow, g in heats.groupby("cow")["date"]})
    rows = []
    for j in range(cycles, 0, -1):
        k = end - step * j
        stop = k + step
        eligible = bred = heat_only = pregnant = pending = 0
        for r in lactations.itertuples():
            conceived_here = not pd.isna(r.conception) and k <= r.conception < stop
            if (r.calving + wait > k or (not pd.isna(r.conception) and r.conception < k)
                    or (not pd.isna(r.next_calving) and r.next_calving <= k)
                    or (not conceived_here and not pd.isna(r.exit) and r.exit < stop)):
                continue
            eligible += 1
            served = [o for d, o in by_cow.get(r.cow, ()) if k <= d < stop and d > r.calving]
            if served:
                bred += 1
                if conceived_here:
                    pregnant += 1
                elif "unknown" in served:
                    pending += 1
            elif any(k <= d < stop and d > r.calving for d in seen.get(r.cow, ())):
                heat_only += 1
        rows.append((k, stop - pd.Timedelta(days=1), eligible, bred, heat_only, pregnant,
                     pending, _ratio(bred + heat_only, eligible), _ratio(pregnant, bred - pending),
                     _ratio(pregnant, eligible)))
    out = pd.DataFrame(rows, columns=list(CYCLE_COLUMNS))
    return out.astype({"cycle_start": "datetime64[us]", "cycle_end": "datetime64[us]"})


def cycle_totals(table: pd.DataFrame) -> dict[str, float | int | None]:
    """The table's bottom line: counts summed over the cycles, rates of the sums."""
    n = {c: int(table[c].sum()) for c in ("eligible", "bred", "heats", "pregnant", "pending")}
    return {**n, "submission_rate": _ratio(n["bred"] + n["heats"], n["eligible"]),
            "conception_rate": _ratio(n["pregnant"], n["bred"] - n["pending"]),
            "pregnancy_rate": _ratio(n["pregnant"], n["eligible"])}


def pregnancy_status(frames: ReproFrames, females: pd.DataFrame, *, today: date) -> pd.DataFrame:
    """Each female in the herd that has calved (``females``: cow, official_id, birth_date,
    herd) with her lactation (recorded calvings), days in milk today and status, by the rules
    of the to-do list (``worklists``): *open* — not served since her last calving, or the last
    diagnosis after her last service says open; *bred* — served, no diagnosis since;
    *pregnant* — the last diagnosis after her last service says pregnant. Dry-off is not
    recorded, so no cow is called dry. Heifers have no days in milk and are not listed."""
    now = pd.Timestamp(today)
    upto = {name: df[df["date"] <= now] for name, df in (
        ("services", frames.services), ("diagnoses", frames.diagnoses),
        ("calvings", frames.calvings))}
    services = {c: sorted(g) for c, g in upto["services"].groupby("cow")["date"]}
    diagnoses = {c: sorted(zip(g["date"], g["result"], strict=True))
                 for c, g in upto["diagnoses"].groupby("cow")}
    calvings = {c: sorted(set(g)) for c, g in upto["calvings"].groupby("cow")["date"]}
    rows = []
    for cow in females.itertuples():
        calved = calvings.get(cow.cow)
        if not calved:
            continue
        served = [d for d in services.get(cow.cow, ()) if d > calved[-1]]
        if not served:
            status = "open"
        else:
            after = [r for d, r in diagnoses.get(cow.cow, ()) if d > served[-1]]
            status = after[-1] if after else "bred"
        rows.append((cow.cow, cow.official_id, cow.herd, len(calved), (now - calved[-1]).days,
                     status, len(served), served[-1] if served else pd.NaT))
    out = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    return out.astype({"last_service": "datetime64[us]", "days_in_milk": "int64",
                       "lactation": "int64", "services": "int64"})


def calving_intervals(lactations: pd.DataFrame) -> pd.DataFrame:
    """Each pair of consecutive recorded calvings of a cow: cow, herd, calving, next_calving
    and ``days`` between them (the herd's calving-interval KPI is their mean)."""
    done = lactations.dropna(subset=["next_calving"])
    out = done[["cow", "herd", "calving", "next_calving"]].reset_index(drop=True)
    return out.assign(days=(out["next_calving"] - out["calving"]).dt.days.astype("int64"))


def age_at_first_calving(calvings: pd.DataFrame, females: pd.DataFrame) -> pd.DataFrame:
    """Each female with a birth date and a recorded calving: her first recorded calving and
    her age then in days and months (days / 30.4375). A cow bought in after her first calving
    shows her first *recorded* one: an outlier to read with that in mind."""
    first = calvings.groupby("cow")["date"].min().rename("first_calving").reset_index()
    born = females.dropna(subset=["birth_date"])[["cow", "official_id", "herd", "birth_date"]]
    out = born.merge(first, on="cow", how="inner")
    out["birth_date"] = pd.to_datetime(out["birth_date"])
    days = (out["first_calving"] - out["birth_date"]).dt.days.astype("int64")
    return out.assign(days=days, months=days / 30.4375).sort_values(
        "official_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class BreedingSummary:
    """Everything the reproduction page shows for one herd on one day."""

    today: date
    vwp_days: int
    cycles: pd.DataFrame
    by_service_number: pd.DataFrame
    by_lactation: pd.DataFrame
    by_service_type: pd.DataFrame
    by_sire: pd.DataFrame
    by_technician: pd.DataFrame
    by_month: pd.DataFrame
    status: pd.DataFrame
    calving_intervals: pd.DataFrame
    first_calving: pd.DataFrame

    @property
    def empty(self) -> bool:
        return (self.by_month.empty and self.status.empty and self.first_calving.empty)


def breeding_summary(frames: ReproFrames, females: pd.DataFrame, *, today: date,
                     vwp_days: int = VOLUNTARY_WAITING_DAYS,
                     start: date | None = None) -> BreedingSummary:
    """The breeding summary of ``frames`` on ``today``: the cycle table of the last year, the
    conception-rate breakdowns and monthly KPIs of services from ``start`` (default: the
    cycle table's first day), the status of the cows still in the herd (``females`` without
    an exit) and the calving-interval and age-at-first-calving values over all records."""
    outcomes = service_outcomes(frames.services, frames.diagnoses, frames.calvings)
    lact = conceptions_after_calvings(outcomes, frames.calvings, frames.exits)
    cycles = cycle_table(outcomes, lact, as_of=today, vwp_days=vwp_days, heats=frames.heats)
    first = start or cycles["cycle_start"].iloc[0].date()

    def by(what: str) -> pd.DataFrame:
        return kpi_breakdown_from(frames, what, start=first, end=today, as_of=today,
                                  vwp_days=vwp_days, outcomes=outcomes)

    in_herd = females[~females["cow"].isin(frames.exits["cow"])]
    return BreedingSummary(
        today=today, vwp_days=vwp_days, cycles=cycles,
        by_service_number=by("service_number"), by_lactation=by("lactation"),
        by_service_type=by("service_type"), by_sire=by("sire"),
        by_technician=by("technician"), by_month=by("month"),
        status=pregnancy_status(frames, in_herd, today=today),
        calving_intervals=calving_intervals(lact),
        first_calving=age_at_first_calving(frames.calvings, females))
