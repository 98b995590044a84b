"""A realistic reproduction history behind a herd's recorded pedigree (for the demo and tests).

Every recorded calving (a calf with a recorded sire and dam) gets the services that led to it:
the conceiving insemination with the calf's sire 276-290 days before birth, 0-3 earlier
services 19-23 days apart (returns to oestrus), and now and then an early pregnancy that was
confirmed and then lost (re-served ~9 weeks later); the conceiving service is diagnosed
pregnant 32-45 days later. Calvings closer than 330 days to the dam's previous one are left
unrecorded (the simulator does not model that). Heifers of the youngest generation are
inseminated at ~15 months and diagnosed. Straws come from lots received into each herd's tank.
Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    InseminationEntry,
    SemenReceipt,
)

TECHNICIANS = ("T-Anna", "T-Ben", "T-Carla")
MIN_CALVING_GAP_DAYS = 330


@dataclass
class History:
    receipts: list[SemenReceipt] = field(default_factory=list)
    events: list[InseminationEntry | DiagnosisEntry | CalvingEntry] = field(default_factory=list)


def _days(n: int) -> timedelta:
    return timedelta(days=int(n))


def simulate_history(animals: pd.DataFrame, bulls: dict[str, date], *, seed: int,
                     today: date) -> History:
    """``animals``: official_id, sex, birth_date, herd, sire, dam (official IDs) of one farm;
    ``bulls``: birth dates of the sires used (own or reference). Nothing after ``today``."""
    rng = np.random.default_rng(seed)
    tech = lambda: str(rng.choice(TECHNICIANS))  # noqa: E731
    born = dict(zip(animals["official_id"], animals["birth_date"], strict=True))
    herd = dict(zip(animals["official_id"], animals["herd"], strict=True))
    females = set(animals.loc[animals["sex"] == "F", "official_id"])

    def bull_for(day: date) -> str | None:
        ready = sorted(b for b, d in bulls.items() if d is None or (day - d).days > 400)
        return str(rng.choice(ready)) if ready else None

    def lot(cow: str, bull: str) -> str | None:
        return f"L-{bull}" if herd.get(cow) else None
    out = History()
    calves = animals.dropna(subset=["sire", "dam"])
    calves = calves[calves["dam"].isin(females)].sort_values(["dam", "birth_date"])
    for dam, group in calves.groupby("dam", sort=False):
        last_calving = None
        for calf in group.itertuples():
            day = calf.birth_date
            if last_calving is not None and (day - last_calving).days < MIN_CALVING_GAP_DAYS:
                continue
            if (day - born[dam]).days < 600:
                continue
            earliest = max(born[dam] + _days(400),
                           (last_calving or date.min + _days(400)) + _days(45))
            conceived = day - _days(rng.integers(276, 291))
            if conceived < earliest:
                continue
            services = [(conceived, calf.sire, "pregnant")]
            for _ in range(int(rng.choice(4, p=[0.45, 0.3, 0.15, 0.1]))):
                lost = rng.random() < 0.08
                prev = services[-1][0] - _days(rng.integers(58, 68) if lost
                                               else rng.integers(19, 24))
                bull = bull_for(prev)
                if prev < earliest or bull is None:
                    break
                services.append((prev, bull, "lost" if lost else "open"))
            for when, bull, fate in reversed(services):
                out.events.append(InseminationEntry(dam, bull, when,
                                                    "timed" if rng.random() < 0.3 else "heat",
                                                    tech(), semen_lot=lot(dam, bull)))
                if fate in ("pregnant", "lost"):
                    check = when + _days(rng.integers(32, 46) if fate == "pregnant" else 35)
                    out.events.append(DiagnosisEntry(dam, check, "ultrasound", "pregnant",
                                                     (check - when).days, tech()))
                if fate == "lost":
                    out.events.append(DiagnosisEntry(dam, when + _days(55), "ultrasound", "open",
                                                     None, tech()))
            out.events.append(CalvingEntry(dam, day, int(rng.choice(4, p=[.6, .25, .1, .05])) + 1,
                                           calf.sex, calf=calf.official_id))
            last_calving = day
    youngest = animals["birth_date"].max()
    for heifer in sorted(females):
        first = born[heifer] + _days(rng.integers(420, 480))
        bull = bull_for(first)
        if born[heifer] < youngest - _days(300) or first > today - _days(50) or bull is None:
            continue
        out.events.append(InseminationEntry(heifer, bull, first, "heat", tech(),
                                            semen_lot=lot(heifer, bull)))
        out.events.append(DiagnosisEntry(heifer, first + _days(35), "ultrasound",
                                         "pregnant" if rng.random() < 0.55 else "open",
                                         None, tech()))
    out.events = [e for e in out.events if _when(e) <= today]
    uses = pd.DataFrame([(herd[e.cow], e.bull, e.service_date) for e in out.events
                         if isinstance(e, InseminationEntry) and e.semen_lot],
                        columns=["herd", "bull", "day"])
    for n, ((h, bull), g) in enumerate(uses.groupby(["herd", "bull"])):
        out.receipts.append(SemenReceipt(h, bull, f"L-{bull}", "TANK-1", f"C{n % 6 + 1}",
                                         len(g) + int(rng.integers(5, 25)),
                                         max(min(g["day"]) - _days(30),
                                             bulls.get(bull) or date.min),
                                         "AI centre"))
    return out


def _when(e: InseminationEntry | DiagnosisEntry | CalvingEntry) -> date:
    return {InseminationEntry: lambda x: x.service_date, DiagnosisEntry: lambda x: x.diagnosis_date,
            CalvingEntry: lambda x: x.calving_date}[type(e)](e)
