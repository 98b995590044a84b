"""A realistic reproduction history behind a herd's recorded pedigree (for the demo and tests).

Each female of the farm lives a simulated life from birth until she leaves the herd or until
``today``: bred as a heifer at 13-15 months, then lactation after lactation — first service
50-80 days after calving, returns to oestrus every ~21 days (a missed heat now and then, then
an open diagnosis and a timed AI), heats seen and recorded without a service (the first heat
after calving, inside the waiting period, for about half the cows; a third of the heats after a
failed service that were not bred), conception with a probability that falls with parity, a
pregnancy diagnosis 32-45 days after the conceiving service, a few pregnancies lost after a
positive diagnosis, gestation 276-290 days. Cows leave the herd: culled for infertility (not
pregnant 250 days after calving, or after 8 services), culled or sold for other reasons at a
rate that rises with parity, a few die. These rates put the herd's KPIs in the ranges of
commercial dairy herds: conception rate ~40 %, 21-day pregnancy rate ~15-25 %, days open
~120-150, calving interval ~400 days.

The recorded pedigree is kept: a calf registered with its sire and dam is the calf of a
calving of its dam, conceived by an insemination with its sire; the simulator fits the
lactations between two such calvings. Calvings that fall between are new calves, registered as
animals (``SIMCAL…``); bull calves and surplus heifer calves are sold within weeks, heifer
calves born after the recorded pedigree ends are raised as replacements (and bred in turn).
Straws come from lots received into each herd's tank. Deterministic for a seed.

``reserve=(day, n)`` keeps up to ``n`` replacement heifers aged 13-30 months at ``day`` free of
any record, for embryo work to be recorded on them (``History.reserved``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    ExitEntry,
    HeatEntry,
    InseminationEntry,
    SemenReceipt,
    animal_of,
    day_of,
)

TECHNICIANS = ("T-Anna", "T-Ben", "T-Carla")
MIN_CALVING_GAP_DAYS = 330
CALF_PREFIX = "SIMCAL"

HEIFER_FIRST_SERVICE = (400, 470)  # days of age
FIRST_SERVICE_AFTER_CALVING = (50, 80)
GESTATION = (276, 291)
CONCEPTION = {0: 0.55, 1: 0.42, 2: 0.38, 3: 0.35}  # by parity (3: third and later)
PREGNANCY_LOSS = 0.08
MAX_SERVICES = 8
INFERTILE_AFTER_DAYS = 250
LEAVES_AFTER_LACTATION = (0.18, 0.22, 0.28, 0.35, 0.45, 0.6, 0.8)  # by parity 1, 2, …
DIES_PER_LACTATION = 0.03
KEEP_HEIFER_CALF = {False: 0.5, True: 0.9}  # before / after the recorded pedigree ends
CAUSES = ("mastitis", "lameness", "low yield", "udder", "age")
FIRST_HEAT_AFTER_CALVING = (30, 46)  # days: inside the waiting period, not bred
FIRST_HEAT_SEEN = 0.5
RETURN_SEEN_NOT_BRED = 1 / 3  # of the heats after a failed service that were not bred

Event = HeatEntry | InseminationEntry | DiagnosisEntry | CalvingEntry | ExitEntry


@dataclass
class History:
    receipts: list[SemenReceipt] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reserved: list[str] = field(default_factory=list)  # heifers kept free for embryo work


@dataclass(frozen=True)
class _Anchor:
    """A recorded calving: the calf and its recorded sire."""

    day: date
    calf: str
    sire: str
    sex: str


def _days(n: int) -> timedelta:
    return timedelta(days=int(n))


class _Simulator:
    def __init__(self, animals: pd.DataFrame, bulls: dict[str, date | None], seed: int,
                 today: date) -> None:
        self.rng = np.random.default_rng(seed)
        # heats seen without a service draw from their own stream, so adding them left every
        # other record of a seed as it was
        self.seen = np.random.default_rng([seed, 1])
        # the recorded pedigree ends here: later heifer calves are the herd's replacements
        self.replacements_from = animals["birth_date"].max() if len(animals) else date.min
        self.bulls = bulls
        self.today = today
        self.herd = dict(zip(animals["official_id"], animals["herd"], strict=True))
        self.events: list[Event] = []
        self.calves = 0
        self.calf_prefix = f"{CALF_PREFIX}{seed % 1000:03d}"

    # -- small draws --------------------------------------------------------------------------
    def uniform(self, lo_hi: tuple[int, int]) -> int:
        return int(self.rng.integers(*lo_hi))

    def tech(self) -> str:
        return str(self.rng.choice(TECHNICIANS))

    def bull_for(self, day: date) -> str | None:
        ready = sorted(b for b, d in self.bulls.items() if d is None or (day - d).days > 400)
        return str(self.rng.choice(ready)) if ready else None

    def lot(self, cow: str, bull: str) -> str | None:
        return f"L-{bull}" if self.herd.get(cow) else None

    # -- records ------------------------------------------------------------------------------
    def inseminate(self, cow: str, day: date, bull: str, timed: bool = False) -> None:
        kind = "timed" if timed or self.rng.random() < 0.25 else "heat"
        self.events.append(InseminationEntry(cow, bull, day, kind, self.tech(),
                                             semen_lot=self.lot(cow, bull)))

    def heat_seen(self, cow: str, day: date, chance: float) -> None:
        """A heat seen and recorded but not served, with probability ``chance``."""
        if self.seen.random() < chance and day <= self.today:
            self.events.append(HeatEntry(cow, day, str(self.seen.choice(TECHNICIANS))))

    def diagnose(self, cow: str, day: date, result: str, served: date | None = None) -> None:
        days = (day - served).days if result == "pregnant" and served else None
        self.events.append(DiagnosisEntry(cow, day, "ultrasound", result, days, self.tech()))

    def new_calf(self) -> str:
        self.calves += 1
        return f"{self.calf_prefix}{self.calves:06d}"

    # -- one open period: services until a conception -----------------------------------------
    def services_until_conception(self, cow: str, start: date, parity: int,
                                  deadline: date) -> tuple[date, str] | None:
        """Services from ``start`` until one conceives (its day and bull) or the cow gives up
        (not pregnant by ``deadline`` or after MAX_SERVICES): ``None``."""
        p = CONCEPTION[min(parity, 3)]
        day = start
        for n in range(MAX_SERVICES if parity else 5):
            if day > deadline or day > self.today:
                return None
            bull = self.bull_for(day)
            if bull is None:
                return None
            self.inseminate(cow, day, bull, timed=n == 0 and parity > 0)
            if self.rng.random() < p:
                return day, bull
            if self.rng.random() < 0.25:  # not bred at the return: found open at a check,
                check = day + _days(self.uniform((28, 36)))  # resynchronised
                self.heat_seen(cow, day + _days(int(self.seen.integers(19, 24))),
                               RETURN_SEEN_NOT_BRED)
                if check <= self.today:
                    self.diagnose(cow, check, "open")
                day = check + _days(self.uniform((7, 11)))
            else:
                day += _days(self.uniform((19, 24)))
        return None

    def anchored_services(self, cow: str, start: date, conceived: date, sire: str) -> None:
        """The services of an open period that ends with a recorded calf's conception on
        ``conceived`` (with its recorded sire): 0-4 returns to oestrus before it."""
        earlier = []
        day = conceived
        for _ in range(int(self.rng.choice(5, p=[0.4, 0.28, 0.17, 0.1, 0.05]))):
            day -= _days(self.uniform((19, 24)))
            if day < start:
                break
            earlier.append(day)
        for d in reversed(earlier):
            bull = self.bull_for(d)
            if bull is not None:
                self.inseminate(cow, d, bull)
        self.inseminate(cow, conceived, sire)

    def pregnancy(self, cow: str, conceived: date, *, may_be_lost: bool = True) -> bool:
        """Diagnose a conception; ``False`` if it is lost (found open later). A recorded calf's
        pregnancy is not lost."""
        check = conceived + _days(self.uniform((32, 46)))
        if check <= self.today:
            self.diagnose(cow, check, "pregnant", conceived)
        if may_be_lost and self.rng.random() < PREGNANCY_LOSS:
            recheck = conceived + _days(self.uniform((60, 80)))
            if recheck <= self.today:
                self.diagnose(cow, recheck, "open")
            return False
        return True

    def calving(self, dam: str, day: date, parity: int, calf: str | None = None,
                sex: str | None = None) -> tuple[str | None, str]:
        """Record a calving; a new calf unless ``calf`` is the recorded one. Returns the calf
        (``None``: stillborn) and its sex."""
        ease = int(self.rng.choice(5, p=[.55, .27, .12, .05, .01] if parity == 0
                                   else [.72, .2, .06, .015, .005])) + 1
        self.heat_seen(dam, day + _days(int(self.seen.integers(*FIRST_HEAT_AFTER_CALVING))),
                       FIRST_HEAT_SEEN)
        if calf is None:
            sex = "M" if self.rng.random() < 0.5 else "F"
            if self.rng.random() < 0.04:
                self.events.append(CalvingEntry(dam, day, ease, sex, stillborn=True))
                return None, sex
            calf = self.new_calf()
        self.events.append(CalvingEntry(dam, day, ease, sex, calf=calf))
        return calf, sex

    def leave(self, animal: str, day: date, reason: str, cause: str | None) -> None:
        if day <= self.today:
            self.events.append(ExitEntry(animal, day, reason, cause))

    # -- a female's life ----------------------------------------------------------------------
    def life(self, cow: str, born: date, anchors: list[_Anchor]) -> list[tuple[str, date]]:
        """Simulate one female; returns the heifer calves she raises (ID, birth date)."""
        kept: list[tuple[str, date]] = []
        parity, start = 0, born + _days(self.uniform(HEIFER_FIRST_SERVICE))
        last_calving: date | None = None
        pending = list(anchors)
        exit_at: tuple[date, str, str | None] | None = None
        while start <= self.today and (exit_at is None or start <= exit_at[0]):
            if pending:
                anchor = pending[0]
                conceived = anchor.day - _days(self.uniform(GESTATION))
                if conceived < (last_calving or born) + _days(45 if last_calving else 300):
                    pending.pop(0)  # does not fit: that calf stays without a calving record
                    continue
                if (conceived - start).days < 420:  # no room for another lactation first
                    self.anchored_services(cow, start, conceived, anchor.sire)
                    self.pregnancy(cow, conceived, may_be_lost=False)
                    pending.pop(0)
                    self.calving(cow, anchor.day, parity, anchor.calf, anchor.sex)
                    parity, last_calving = parity + 1, anchor.day
                    start = anchor.day + _days(self.uniform(FIRST_SERVICE_AFTER_CALVING))
                    if not pending:
                        exit_at = self.lactation_exit(anchor.day, parity)
                    continue
                deadline = conceived - _days(GESTATION[1] + 60)
            else:
                deadline = (last_calving or start) + _days(
                    INFERTILE_AFTER_DAYS if last_calving else 160)
            got = self.services_until_conception(cow, start, parity, deadline)
            if got is None:
                if pending:  # open until the recorded calf's conception
                    start = max(start, conceived - _days(30))
                    continue
                culled = (max(start, deadline) + _days(self.uniform((20, 60))),
                          "slaughter" if parity else "sold", "infertility")
                exit_at = min(exit_at or culled, culled)
                break
            conceived_free = got[0]
            if not self.pregnancy(cow, conceived_free):
                start = conceived_free + _days(self.uniform((85, 100)))
                continue
            due = conceived_free + _days(self.uniform(GESTATION))
            if not pending and exit_at is None and self.rng.random() < DIES_PER_LACTATION / 2:
                exit_at = (conceived_free + _days(self.uniform((50, 270))),
                           "died" if parity else "sold", None)
            if due > self.today or (exit_at is not None and due > exit_at[0]):
                break
            calf, sex = self.calving(cow, due, parity)
            parity, last_calving = parity + 1, due
            if calf is not None:
                kept += self.raise_or_sell(calf, sex, due)
            start = due + _days(self.uniform(FIRST_SERVICE_AFTER_CALVING))
            if not pending and exit_at is None:
                exit_at = self.lactation_exit(due, parity)
        if exit_at is not None:
            self.leave(cow, *exit_at)
        return kept

    def lactation_exit(self, calved: date, parity: int) -> tuple[date, str, str | None] | None:
        """Does the cow leave during the lactation that began on ``calved`` (dies, is culled
        or sold)? She is bred as usual until then; what was drawn past her exit is dropped."""
        if self.rng.random() < DIES_PER_LACTATION:
            return calved + _days(self.uniform((1, 200))), "died", None
        if self.rng.random() < LEAVES_AFTER_LACTATION[
                min(parity, len(LEAVES_AFTER_LACTATION)) - 1]:
            return (calved + _days(self.uniform((120, 320))),
                    "slaughter" if self.rng.random() < 0.85 else "sold",
                    str(self.rng.choice(CAUSES)))
        return None

    def bull_exit(self, bull: str, born: date, last_use: date | None) -> None:
        """A bull of the herd: sold young unless he sires calves here, then culled later."""
        day = born + _days(self.uniform((30, 700)))
        if last_use is not None:
            day = max(day, last_use + _days(self.uniform((60, 400))))
        self.leave(bull, day, "sold" if last_use is None else "slaughter", None)

    def raise_or_sell(self, calf: str, sex: str, born: date) -> list[tuple[str, date]]:
        """Bull calves are sold at 2-5 weeks; heifer calves are raised as replacements
        (returned) — half of them while the recorded (genotyped) heifers also join the herd,
        nearly all after the recorded pedigree ends — and the others sold."""
        keep = KEEP_HEIFER_CALF[born > self.replacements_from]
        if sex == "F" and self.rng.random() < keep:
            return [(calf, born)]
        self.leave(calf, born + _days(self.uniform((14, 36) if sex == "M" else (14, 90))),
                   "sold", None if sex == "M" else "surplus heifer")
        return []


def simulate_history(animals: pd.DataFrame, bulls: dict[str, date | None], *, seed: int,
                     today: date, reserve: tuple[date, int] | None = None) -> History:
    """``animals``: official_id, sex, birth_date, herd, sire, dam (official IDs) of one farm;
    ``bulls``: birth dates of the sires used (own or reference). Nothing after ``today``."""
    sim = _Simulator(animals, bulls, seed, today)
    born = dict(zip(animals["official_id"], animals["birth_date"], strict=True))
    females = animals[(animals["sex"] == "F") & animals["herd"].notna()]
    calves = animals.dropna(subset=["sire", "dam"])
    calves = calves[calves["dam"].isin(set(females["official_id"]))]
    anchors: dict[str, list[_Anchor]] = {}
    for dam, group in calves.sort_values(["dam", "birth_date"]).groupby("dam", sort=False):
        kept: list[_Anchor] = []
        for c in group.itertuples():
            if (c.birth_date - born[dam]).days < 600 or (
                    kept and (c.birth_date - kept[-1].day).days < MIN_CALVING_GAP_DAYS):
                continue
            kept.append(_Anchor(c.birth_date, c.official_id, c.sire, c.sex))
        anchors[dam] = kept
    herd_of = sim.herd
    sires = animals.dropna(subset=["sire"]).groupby("sire")["birth_date"].max()
    for bull in animals[(animals["sex"] == "M") & animals["herd"].notna()].itertuples():
        last = sires.get(bull.official_id)
        sim.bull_exit(bull.official_id, bull.birth_date,
                      None if last is None or pd.isna(last) else last - _days(280))
    queue = sorted(zip(females["birth_date"], females["official_id"], strict=True))
    out = History()
    while queue:
        birth, cow = queue.pop(0)
        if reserve and len(out.reserved) < reserve[1] and cow.startswith(CALF_PREFIX) and (
                390 <= (reserve[0] - birth).days <= 900):
            out.reserved.append(cow)
            continue
        for calf, day in sim.life(cow, birth, anchors.get(cow, [])):
            herd_of[calf] = herd_of[cow]
            queue.append((day, calf))
        queue.sort()
    served = {(e.cow, e.service_date) for e in sim.events if isinstance(e, InseminationEntry)}
    out.events = _until_exit([e for e in sim.events if day_of(e) <= today and not (
        isinstance(e, HeatEntry) and (e.cow, e.heat_date) in served)])  # a service records it
    out.receipts = _receipts(out.events, herd_of, bulls, sim.rng)
    return out


def _until_exit(events: list[Event]) -> list[Event]:
    """Drop what was drawn for a cow after she left the herd."""
    left = {e.animal: e.exit_date for e in events if isinstance(e, ExitEntry)}
    return [e for e in events if isinstance(e, ExitEntry) or animal_of(e) not in left
            or day_of(e) <= left[animal_of(e)]]


def _receipts(events: list[Event], herd: dict, bulls: dict, rng) -> list[SemenReceipt]:
    uses = pd.DataFrame([(herd[e.cow], e.bull, e.service_date) for e in events
                         if isinstance(e, InseminationEntry) and e.semen_lot],
                        columns=["herd", "bull", "day"])
    out = []
    for n, ((h, bull), g) in enumerate(uses.groupby(["herd", "bull"])):
        out.append(SemenReceipt(h, bull, f"L-{bull}", "TANK-1", f"C{n % 6 + 1}",
                                len(g) + int(rng.integers(5, 25)),
                                max(min(g["day"]) - _days(30), bulls.get(bull) or date.min),
                                "AI centre", reference=f"DN-{h}-{n + 1}"))
    return out
