"""The herd's reproduction to-do list: which cows need the vet, the inseminator or the herdsman
today, and why (a pure function over the same frames as the KPIs).

Each female still in the herd gets her state from her records — heifer, open, bred, pregnant —
and at most one action, the most pressing one, in this order:

1. ``examine``: open and not served by 80 days in milk (no heat seen), or found open after 3+
   services in this lactation (a repeat breeder): the vet's herd-check cows;
2. ``pregnancy check``: served 32+ days ago and not diagnosed since;
3. ``confirm pregnancy``: diagnosed pregnant only early (< 50 days after the service) and now
   60-120 days after it — early losses are common, so a second check before dry-off;
4. ``breed``: open past the voluntary waiting period (50 days in milk), found open at a check,
   or a heifer of breeding age (13 months) never served;
5. ``dry off``: a cow (not a heifer) due to calve within 60 days;
6. ``due to calve``: due within 21 days (or overdue), expected calving = conceiving service +
   283 days.

Cows waiting for nothing (bred less than 32 days ago, pregnant mid-gestation, fresh within the
waiting period) are not listed.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from reprotech_core.reproduction.kpis import VOLUNTARY_WAITING_DAYS, ReproFrames

GESTATION_DAYS = 283
CHECK_AFTER_DAYS = 32
NOT_BRED_BY_DIM = 80
REPEAT_BREEDER_SERVICES = 3
HEIFER_BREEDING_AGE_DAYS = 395
EARLY_DIAGNOSIS_DAYS = 50
CONFIRM_WINDOW = (60, 120)
DRY_OFF_DAYS = 60
DUE_SOON_DAYS = 21

ACTIONS = ("examine", "pregnancy check", "confirm pregnancy", "breed", "dry off",
           "due to calve")
COLUMNS = ("cow", "official_id", "herd", "action", "reason", "status", "parity",
           "days_in_milk", "services", "last_service", "due")
FEMALE_COLUMNS = ("cow", "official_id", "birth_date", "herd")


def worklist_from(frames: ReproFrames, females: pd.DataFrame, *, today: date,
                  vwp_days: int = VOLUNTARY_WAITING_DAYS) -> pd.DataFrame:
    """The to-do list of ``females`` (cow id, official_id, birth_date, herd: the females in the
    herd) on ``today`` from the records up to that day, one row per cow with an action
    (``COLUMNS``), most pressing first."""
    now = pd.Timestamp(today)

    def upto(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["date"] <= now]

    services = {c: sorted(g) for c, g in upto(frames.services).groupby("cow")["date"]}
    diagnoses = {c: sorted(zip(g["date"], g["result"], strict=True))
                 for c, g in upto(frames.diagnoses).groupby("cow")}
    calvings = {c: sorted(set(g)) for c, g in upto(frames.calvings).groupby("cow")["date"]}
    rows = []
    for cow in females.itertuples():
        calved = calvings.get(cow.cow, [])
        last_calving = calved[-1] if calved else None
        lactation = [d for d in services.get(cow.cow, ()) if last_calving is None
                     or d > last_calving]
        row = _state(cow, len(calved), last_calving, lactation, diagnoses.get(cow.cow, []),
                     now, vwp_days)
        if row is not None:
            rows.append(row)
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["due"] = pd.to_datetime(out["due"])
    out["last_service"] = pd.to_datetime(out["last_service"])
    order = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    return (out.assign(_o=order).sort_values(["_o", "due", "official_id"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def _state(cow, parity: int, last_calving, lactation: list, diagnoses: list,
           now: pd.Timestamp, vwp_days: int) -> tuple | None:
    dim = (now - last_calving).days if last_calving is not None else None
    n = len(lactation)
    last = lactation[-1] if lactation else None

    def row(action: str, reason: str, status: str, due=None) -> tuple:
        return (cow.cow, cow.official_id, cow.herd, action, reason, status, parity, dim, n,
                None if last is None else last.date(), None if due is None else due.date())

    if last is None:
        if parity == 0:
            age = (now.date() - cow.birth_date).days if cow.birth_date else None
            if age is not None and age >= HEIFER_BREEDING_AGE_DAYS:
                return row("breed", f"heifer of {age // 30} months, not served", "heifer")
            return None
        if dim >= NOT_BRED_BY_DIM:
            return row("examine", f"{dim} days in milk and not served (no heat seen)", "open")
        if dim >= vwp_days:
            return row("breed", f"{dim} days in milk, past the {vwp_days}-day waiting period",
                       "open")
        return None
    since = (now - last).days
    after = [(d, r) for d, r in diagnoses if d > last]
    if not after:
        if since >= CHECK_AFTER_DAYS:
            return row("pregnancy check", f"served {since} days ago ({last.date()}), "
                       "not diagnosed since", "bred", last + pd.Timedelta(days=CHECK_AFTER_DAYS))
        return None
    if after[-1][1] == "open":
        if n >= REPEAT_BREEDER_SERVICES:
            return row("examine", f"found open on {after[-1][0].date()} after {n} services "
                       "in this lactation", "open")
        return row("breed", f"found open on {after[-1][0].date()}", "open")
    due = last + pd.Timedelta(days=GESTATION_DAYS)
    to_go = (due - now).days
    if to_go <= DUE_SOON_DAYS:
        return row("due to calve", f"overdue by {-to_go} days" if to_go < 0
                   else f"due in {to_go} days", "pregnant", due)
    if parity > 0 and to_go <= DRY_OFF_DAYS:
        return row("dry off", f"due to calve on {due.date()}", "pregnant",
                   due - pd.Timedelta(days=DRY_OFF_DAYS))
    checked = [(d - last).days for d, r in after if r == "pregnant"]
    if max(checked) < EARLY_DIAGNOSIS_DAYS and CONFIRM_WINDOW[0] <= since <= CONFIRM_WINDOW[1]:
        return row("confirm pregnancy", f"diagnosed pregnant {max(checked)} days after the "
                   f"service of {last.date()} only", "pregnant")
    return None
