"""Reproduction KPIs as pure functions over DataFrames (definitions: docs/reproduction.md).

Inputs (:class:`ReproFrames`), one row per record, dates as datetimes:

- ``services``: cow, date, kind (``ai`` or ``et``), sire, technician, herd
- ``diagnoses``: cow, date, result (``pregnant`` or ``open``)
- ``calvings``: cow, date, herd (one row per calving, twins once)
- ``flushes``: date, donor, sire, herd, embryos (structures recovered), transferable
- ``ivf``: date, donor, sire, herd, oocytes, cleaved, blastocysts
- ``exits``: cow, date (the day an animal left the herd: it is no longer eligible to conceive)
- ``heats``: cow, date (a heat seen, served or not: with the services, what the heat-detection
  rate counts as a cow *submitted* in a 21-day cycle)

The outcome of every service is decided once (:func:`service_outcomes`) and every rate is a
ratio of counts over the services, cycles or calvings *in the period*, so a breakdown by herd
or month is the same definition applied to a smaller set. Conventions follow the dairy herd
literature (Ferguson & Galligan 1999 for the 21-day pregnancy rate; Fricke et al. 1998 for
pregnancy loss after a positive diagnosis); thresholds are keyword arguments.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date

import numpy as np
import pandas as pd

from reprotech_core.db.frames import rows_frame
from reprotech_core.reproduction.book.calvings import GESTATION_MAX_DAYS, GESTATION_MIN_DAYS

VOLUNTARY_WAITING_DAYS = 50
CYCLE_DAYS = 21

SERVICE_COLUMNS = ("cow", "date", "kind", "sire", "technician", "herd")
DIAGNOSIS_COLUMNS = ("cow", "date", "result")
CALVING_COLUMNS = ("cow", "date", "herd")
FLUSH_COLUMNS = ("date", "donor", "sire", "herd", "embryos", "transferable")
IVF_COLUMNS = ("date", "donor", "sire", "herd", "oocytes", "cleaved", "blastocysts")
EXIT_COLUMNS = ("cow", "date")
HEAT_COLUMNS = ("cow", "date")


def frame(rows: object = None, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame with the given columns (also when empty) and ``date`` as datetime."""
    df = rows_frame(rows, columns)
    if "date" in df:
        df["date"] = pd.to_datetime(df["date"])
    return df


@dataclass(frozen=True)
class ReproFrames:
    services: pd.DataFrame
    diagnoses: pd.DataFrame
    calvings: pd.DataFrame
    flushes: pd.DataFrame
    ivf: pd.DataFrame
    exits: pd.DataFrame = field(default_factory=lambda: frame(None, EXIT_COLUMNS))
    heats: pd.DataFrame = field(default_factory=lambda: frame(None, HEAT_COLUMNS))

    @classmethod
    def empty(cls) -> ReproFrames:
        return cls(frame(None, SERVICE_COLUMNS), frame(None, DIAGNOSIS_COLUMNS),
                   frame(None, CALVING_COLUMNS), frame(None, FLUSH_COLUMNS),
                   frame(None, IVF_COLUMNS))

    def where(self, column: str, value: object) -> ReproFrames:
        """Only the records whose ``column`` (herd) equals ``value``; diagnoses and exits follow
        their cows' services and calvings, heats too."""
        services = self.services[self.services[column] == value]
        calvings = self.calvings[self.calvings[column] == value]
        cows = set(services["cow"]) | set(calvings["cow"])
        return ReproFrames(services, self.diagnoses[self.diagnoses["cow"].isin(services["cow"])],
                           calvings, self.flushes[self.flushes[column] == value],
                           self.ivf[self.ivf[column] == value],
                           self.exits[self.exits["cow"].isin(cows)],
                           self.heats[self.heats["cow"].isin(cows)])


@dataclass(frozen=True)
class HerdKpis:
    """KPIs of a period; a rate is ``None`` when its denominator is zero."""

    services: int
    conceptions: int
    conception_rate: float | None
    services_per_conception: float | None
    pregnancy_rate_21d: float | None
    eligible_cycles: int
    heat_detection_rate: float | None
    submitted_cycles: int
    days_open: float | None
    calving_interval: float | None
    pregnancy_loss: float | None
    flushes: int
    embryos_per_flush: float | None
    transferable_embryos_per_flush: float | None
    ivf_sessions: int
    blastocyst_rate: float | None
    transfers: int
    pregnancies_per_transfer: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


KPI_FIELDS = tuple(f.name for f in fields(HerdKpis))


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def service_outcomes(services: pd.DataFrame, diagnoses: pd.DataFrame,
                     calvings: pd.DataFrame) -> pd.DataFrame:
    """Each service with its ``outcome`` and pregnancy fate.

    outcome: ``pregnant`` if a calving 240-310 days later is attributed to it (the latest
    service in that window) or, failing that, the first diagnosis after it (up to the cow's
    next service) is positive; ``open`` if that diagnosis is negative or, with none, the cow
    was served again; else ``unknown`` (no information yet: left out of every rate).
    ``confirmed``: a positive diagnosis followed it. ``lost``: confirmed, no calving from it,
    and the cow was found open or served again; ``None`` while still pending.
    """
    s = services.sort_values(["cow", "date"], kind="stable").reset_index(drop=True)
    dsorted = diagnoses.sort_values("date")
    diag = _by_cow(dsorted["cow"], zip(_day_numbers(dsorted["date"], "diagnosis"),
                                        dsorted["result"].tolist(), strict=True))
    calv = {cow: sorted(set(d)) for cow, d in
            _by_cow(calvings["cow"], _day_numbers(calvings["date"], "calving")).items()}
    outcome, calved, confirmed, lost = [], [], [], []
    # s is sorted by cow and date: each cow's services in date order, cows in s's order
    for cow, days in _by_cow(s["cow"], _day_numbers(s["date"], "service")).items():
        n = len(days)
        calf = [False] * n
        for c in calv.get(cow, ()):
            window = [i for i, d in enumerate(days)
                      if GESTATION_MIN_DAYS <= c - d <= GESTATION_MAX_DAYS]
            if window:
                calf[window[-1]] = True
        for i, d in enumerate(days):
            nxt = days[i + 1] if i + 1 < n else None
            dx = [r for t, r in diag.get(cow, ()) if t > d and (nxt is None or t <= nxt)]
            pos = "pregnant" in dx
            if calf[i]:
                out = "pregnant"
            elif dx:
                out = dx[0]
            else:
                out = "open" if nxt is not None else "unknown"
            gone = None
            if pos:
                after_pos = dx[dx.index("pregnant") + 1:]
                gone = False if calf[i] else (True if nxt is not None or "open" in after_pos
                                              else None)
            outcome.append(out)
            calved.append(calf[i])
            confirmed.append(pos)
            lost.append(gone)
    return s.assign(outcome=pd.Series(outcome, dtype=object),
                    calved=pd.Series(calved, dtype=bool),
                    confirmed=pd.Series(confirmed, dtype=bool),
                    lost=pd.Series(lost, dtype=object))


def service_kpis(outcomes: pd.DataFrame) -> dict[str, object]:
    """Conception rate, services per conception and pregnancies per embryo transfer of a set
    of services (those with a known outcome count)."""
    known = outcomes[outcomes["outcome"] != "unknown"]
    preg = int((known["outcome"] == "pregnant").sum())
    et = known[known["kind"] == "et"]
    return {"services": len(outcomes), "conceptions": preg,
            "conception_rate": _ratio(preg, len(known)),
            "services_per_conception": _ratio(len(known), preg),
            "transfers": int((outcomes["kind"] == "et").sum()),
            "pregnancies_per_transfer": _ratio((et["outcome"] == "pregnant").sum(), len(et))}


def conceptions_after_calvings(outcomes: pd.DataFrame, calvings: pd.DataFrame,
                               exits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per calving: the next calving, the first conceiving service after it (if any) and the
    day the cow left the herd (if she did)."""
    preg = outcomes[outcomes["outcome"] == "pregnant"]
    by_cow = _by_cow(preg["cow"], preg["date"])
    left = {} if exits is None else dict(zip(exits["cow"], exits["date"], strict=True))
    herds = calvings["herd"].tolist() if "herd" in calvings else [None] * len(calvings)
    calv = _by_cow(calvings["cow"], zip(calvings["date"].tolist(), herds, strict=True))
    rows = []
    for cow in sorted(calv):
        dates = sorted({d for d, _ in calv[cow]})
        herd = calv[cow][0][1]  # the herd of her first recorded calving row
        for i, c in enumerate(dates):
            nxt = dates[i + 1] if i + 1 < len(dates) else pd.NaT
            conc = next((d for d in by_cow.get(cow, ()) if d > c
                         and (pd.isna(nxt) or d < nxt)), pd.NaT)
            rows.append((cow, herd, c, nxt, conc, left.get(cow, pd.NaT)))
    out = pd.DataFrame(rows, columns=["cow", "herd", "calving", "next_calving", "conception",
                                      "exit"])
    return out.astype({c: "datetime64[us]"
                       for c in ("calving", "next_calving", "conception", "exit")})


def submission_days(services: pd.DataFrame, heats: pd.DataFrame) -> dict[object, list]:
    """Per cow, the sorted days she was *submitted*: served (AI or ET) or seen in heat. A heat
    seen and not served is the farmer's detection as much as a service is (docs/reproduction.md,
    "heat-detection rate"); a heat with a service on the same day counts once."""
    both = pd.concat([services[["cow", "date"]], heats[["cow", "date"]]])
    days = _by_cow(both["cow"], both["date"])
    return {cow: sorted(set(days[cow])) for cow in sorted(days)}


def submitted_in(days: list, start: object, stop: object) -> bool:
    """Whether any of the sorted ``days`` falls in [start, stop) (days, start and stop of one
    kind: Timestamps, or whole days as :func:`pregnancy_cycles` counts them)."""
    i = bisect_left(days, start)
    return i < len(days) and days[i] < stop


def pregnancy_cycles(lactations: pd.DataFrame, *, as_of: pd.Timestamp,
                     vwp_days: int = VOLUNTARY_WAITING_DAYS,
                     submitted: Mapping[object, list] | None = None) -> pd.DataFrame:
    """21-day cycles in which a cow was eligible to become pregnant, whether she did, and
    whether she was *submitted* in it (served or seen in heat: ``submitted`` maps each cow to
    her sorted days, :func:`submission_days`; all False without it).

    A cow is eligible from calving + the voluntary waiting period until she conceives (the
    date of the conceiving service) or leaves the herd (``exit``, if the frame has it); her
    time is cut into 21-day cycles from that start, the cycle holding the conception included,
    and only cycles that ended by ``as_of`` count — for a cow that left without conceiving,
    only those that ended by her exit (she was eligible for the whole cycle). A conception
    before the waiting period ended gives no cycle.
    """
    rows = []
    seen = submitted or {}
    today = pd.Timestamp(as_of).value // _DAY_NS
    n = len(lactations)
    left = _day_numbers(lactations["exit"]) if "exit" in lactations else [None] * n
    submitted_days: dict[object, list[int]] = {}
    for cow, herd, calved, conc, gone in zip(
            lactations["cow"].tolist(), lactations["herd"].tolist(),
            _day_numbers(lactations["calving"], "calving"),
            _day_numbers(lactations["conception"]), left, strict=True):
        conceived = conc is not None
        until = today if conceived or gone is None else min(today, gone)
        days = submitted_days.get(cow)
        if days is None:
            days = submitted_days[cow] = [pd.Timestamp(t).value // _DAY_NS
                                          for t in seen.get(cow, ())]
        k = calved + vwp_days
        while (k <= conc if conceived else k < until) and k + CYCLE_DAYS <= until:
            stop = k + CYCLE_DAYS
            rows.append((cow, herd, k, conceived and k <= conc < stop,
                         submitted_in(days, k, stop)))
            k = stop
    out = pd.DataFrame(rows, columns=["cow", "herd", "cycle_start", "pregnant", "submitted"])
    starts = out["cycle_start"].to_numpy(dtype="int64").astype("datetime64[D]")
    return out.assign(cycle_start=starts).astype(
        {"cycle_start": "datetime64[us]", "pregnant": bool, "submitted": bool})


_DAY_NS = 86_400 * 10**9


def _day_numbers(dates: pd.Series, record: str | None = None) -> list:
    """Days since 1970 of a date column as Python ints (``None`` where missing): the loops
    over each cow's records compare and subtract days, ~10x cheaper on ints than on pandas
    Timestamps. ``record`` names a kind of record that always has its date (services,
    diagnoses, calvings: ``NOT NULL`` in the schema): one without is refused by name."""
    days = pd.to_datetime(dates).to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
    if record is not None and missing.any():
        raise ValueError(f"a {record} without a date ({int(missing.sum())} rows)")
    out = days.astype("int64").tolist()
    if missing.any():
        out = [None if m else v for v, m in zip(out, missing.tolist(), strict=True)]
    return out


def _by_cow(cows: pd.Series, values: object) -> dict[object, list]:
    """``values`` (a column, or an iterable as long) listed per cow, in row order; rows
    without a cow are left out. What ``groupby("cow")`` gives, without building a frame per
    cow (a farm of 10,000 animals has ~10,000 cows: the groups cost more than the work)."""
    out: dict[object, list] = {}
    items = values.tolist() if isinstance(values, pd.Series) else values
    for cow, value in zip(cows.tolist(), items, strict=True):
        if cow is None or cow != cow:  # None or NaN, as groupby drops them
            continue
        out.setdefault(cow, []).append(value)
    return out



def _in(df: pd.DataFrame, col: str, start: pd.Timestamp | None,
        end: pd.Timestamp | None) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    if start is not None:
        keep &= (df[col] >= start).to_numpy()
    if end is not None:
        keep &= (df[col] <= end).to_numpy()
    return df[keep]


def herd_kpis_from(frames: ReproFrames, *, start: date | None = None, end: date | None = None,
                   as_of: date | None = None, vwp_days: int = VOLUNTARY_WAITING_DAYS,
                   outcomes: pd.DataFrame | None = None) -> HerdKpis:
    """All KPIs of the records in [start, end] (each by its own date: service, cycle start,
    calving, conception, flush, OPU); outcomes may look past ``end`` up to ``as_of``."""
    t0 = None if start is None else pd.Timestamp(start)
    t1 = None if end is None else pd.Timestamp(end)
    now = pd.Timestamp(as_of or date.today())
    if outcomes is None:
        outcomes = service_outcomes(frames.services, frames.diagnoses, frames.calvings)
    svc = service_kpis(_in(outcomes, "date", t0, t1))
    lact = conceptions_after_calvings(outcomes, frames.calvings, frames.exits)
    cycles = _in(pregnancy_cycles(lact, as_of=now, vwp_days=vwp_days,
                                  submitted=submission_days(frames.services, frames.heats)),
                 "cycle_start", t0, t1)
    opened = _in(lact.dropna(subset=["conception"]), "conception", t0, t1)
    intervals = _in(lact.dropna(subset=["next_calving"]), "next_calving", t0, t1)
    conf = _in(outcomes[outcomes["confirmed"]], "date", t0, t1)
    decided = conf[conf["lost"].notna()]
    fl = _in(frames.flushes, "date", t0, t1)
    ivf = _in(frames.ivf, "date", t0, t1)
    return HerdKpis(
        services=svc["services"], conceptions=svc["conceptions"],
        conception_rate=svc["conception_rate"],
        services_per_conception=svc["services_per_conception"],
        pregnancy_rate_21d=_ratio(cycles["pregnant"].sum(), len(cycles)),
        eligible_cycles=len(cycles),
        heat_detection_rate=_ratio(cycles["submitted"].sum(), len(cycles)),
        submitted_cycles=int(cycles["submitted"].sum()),
        days_open=_mean((opened["conception"] - opened["calving"]).dt.days),
        calving_interval=_mean((intervals["next_calving"] - intervals["calving"]).dt.days),
        pregnancy_loss=_ratio(decided["lost"].astype(bool).sum(), len(decided)),
        flushes=len(fl), embryos_per_flush=_ratio(fl["embryos"].sum(), len(fl)),
        transferable_embryos_per_flush=_ratio(fl["transferable"].sum(), len(fl)),
        ivf_sessions=len(ivf), blastocyst_rate=_ratio(ivf["blastocysts"].sum(),
                                                      ivf["oocytes"].sum()),
        transfers=svc["transfers"], pregnancies_per_transfer=svc["pregnancies_per_transfer"])


SERVICE_GROUPS = ("1", "2", "3", "4+")
LACTATION_GROUPS = ("heifer", "1", "2", "3+")
SERVICE_TYPE_GROUPS = ("heat", "timed", "embryo transfer", "not recorded")


def numbered_services(outcomes: pd.DataFrame, calvings: pd.DataFrame) -> pd.DataFrame:
    """Each service with the cow's ``lactation`` (recorded calvings before it; 0 before her
    first) and its ``service_number`` within that lactation (1 = first service after the
    calving, or a heifer's first service), with the groups the breeding summary reports:
    ``service_group`` 1, 2, 3, 4+ and ``lactation_group`` heifer, 1, 2, 3+.

    A cow's calvings before she was recorded are unknown here, so a bought-in cow's lactation
    counts from her first *recorded* calving (DairyComp 305's LACT is entered, ours derived).
    """
    calv = {cow: sorted(set(g)) for cow, g in calvings.groupby("cow")["date"]}
    s = outcomes.sort_values(["cow", "date"], kind="stable").reset_index(drop=True)
    lact = [sum(c < d for c in calv.get(cow, ())) for cow, d in zip(s["cow"], s["date"],
                                                                   strict=True)]
    s = s.assign(lactation=pd.Series(lact, dtype="int64"))
    s["service_number"] = s.groupby(["cow", "lactation"]).cumcount() + 1
    s["service_group"] = [SERVICE_GROUPS[min(n, 4) - 1] for n in s["service_number"]]
    s["lactation_group"] = [LACTATION_GROUPS[min(n, 3)] for n in s["lactation"]]
    if "service_type" in s:
        kind = s["service_type"].where(s["service_type"].isin(("heat", "timed")))
    else:
        kind = pd.Series([None] * len(s), dtype=object)
    s["service_type_group"] = [
        "embryo transfer" if k == "et" else (t if isinstance(t, str) else "not recorded")
        for k, t in zip(s["kind"], kind, strict=True)]
    return s


BREAKDOWNS = ("herd", "month", "sire", "technician", "service_number", "lactation",
              "service_type")
_GROUPED = {"service_number": ("service_group", SERVICE_GROUPS),
            "lactation": ("lactation_group", LACTATION_GROUPS),
            "service_type": ("service_type_group", SERVICE_TYPE_GROUPS)}


def kpi_breakdown_from(frames: ReproFrames, by: str, *, start: date | None = None,
                       end: date | None = None, as_of: date | None = None,
                       vwp_days: int = VOLUNTARY_WAITING_DAYS,
                       outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per herd or month (every KPI), or per sire, technician, service number (1, 2, 3,
    4+ of the lactation), lactation (heifer, 1, 2, 3+) or service type (heat, timed AI, embryo
    transfer; the service KPIs: services, conceptions, conception rate, services per
    conception, transfers, pregnancies per transfer); one row per group, sorted by it (the
    numbered groups in their natural order). ``outcomes``: ``service_outcomes`` of ``frames``
    when the caller has them already (several breakdowns of one herd decide them once)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"breakdown by {by!r}: one of {', '.join(BREAKDOWNS)}")
    if outcomes is None:
        outcomes = service_outcomes(frames.services, frames.diagnoses, frames.calvings)
    rows = []
    if by == "herd":
        herds = sorted(set().union(*(f["herd"].dropna() for f in (
            frames.services, frames.calvings, frames.flushes, frames.ivf))))
        for h in herds:
            rows.append({"herd": h, **herd_kpis_from(frames.where("herd", h), start=start,
                                                     end=end, as_of=as_of,
                                                     vwp_days=vwp_days).as_dict()})
        return pd.DataFrame(rows, columns=["herd", *KPI_FIELDS])
    if by == "month":
        dates = pd.concat([frames.services["date"], frames.calvings["date"],
                           frames.flushes["date"], frames.ivf["date"]])
        dates = _in(dates.to_frame("date"), "date", *(None if d is None else pd.Timestamp(d)
                                                       for d in (start, end)))["date"]
        for m in sorted(set(dates.dt.to_period("M"))):
            lo = max(m.start_time.date(), start) if start else m.start_time.date()
            hi = min(m.end_time.date(), end) if end else m.end_time.date()
            rows.append({"month": str(m), **herd_kpis_from(
                frames, start=lo, end=hi, as_of=as_of, vwp_days=vwp_days,
                outcomes=outcomes).as_dict()})
        return pd.DataFrame(rows, columns=["month", *KPI_FIELDS])
    if by in _GROUPED:
        column, order = _GROUPED[by]
        outcomes = (numbered_services(outcomes, frames.calvings)
                    .drop(columns=[by], errors="ignore").rename(columns={column: by}))
    picked = _in(outcomes, "date", *(None if d is None else pd.Timestamp(d) for d in (start, end)))
    groups = dict(list(picked.groupby(by, dropna=False, sort=True)))
    keys = [g for g in _GROUPED[by][1] if g in groups] if by in _GROUPED else list(groups)
    for key in keys:
        rows.append({by: key, **service_kpis(groups[key])})
    return pd.DataFrame(rows, columns=[by, "services", "conceptions", "conception_rate",
                                       "services_per_conception", "transfers",
                                       "pregnancies_per_transfer"])
