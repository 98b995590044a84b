"""A herd's voluntary waiting period and reproduction targets (``core.herd_targets``).

The waiting period changes the definitions (eligibility in the 21-day pregnancy rate and the
cycle table), the targets only draw lines on the trends. Both are the customer's, set by the
customer admin or the customer's vet (``targets:write``). Values are checked before anything is
written and each refusal is named (``targets.range``, ``targets.number``,
``targets.permission``); the database checks the ranges again for every writer. A customer the
user may not see is ``NotFound``, as everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.reproduction import TARGET_RANGES
from reprotech_core.errors import NotFound
from reprotech_core.reproduction.kpis import VOLUNTARY_WAITING_DAYS
from reprotech_core.roles import has_permission
from reprotech_core.textfields import Problem, RecordRefused

LABELS = {"vwp_days": "voluntary waiting period (days)",
          "submission_rate_pct": "submission rate target (%)",
          "conception_rate_pct": "conception rate target (%)",
          "pregnancy_rate_pct": "21-day pregnancy rate target (%)",
          "days_open": "days open target", "calving_interval_days": "calving interval target (days)",
          "first_calving_months": "age at first calving target (months)"}


@dataclass(frozen=True)
class HerdTargets:
    """A herd's waiting period and targets; a target of ``None`` is not set (no line)."""

    vwp_days: int = VOLUNTARY_WAITING_DAYS
    submission_rate_pct: int | None = None
    conception_rate_pct: int | None = None
    pregnancy_rate_pct: int | None = None
    days_open: int | None = None
    calving_interval_days: int | None = None
    first_calving_months: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


FIELDS = tuple(f.name for f in fields(HerdTargets))


def check_targets(values: dict[str, object]) -> tuple[HerdTargets | None, list[Problem]]:
    """Typed-in values (numbers or text; empty = not set, the waiting period is required) as
    :class:`HerdTargets`, or the problems: a value that is not a whole number, or out of its
    range (``data_models.reproduction.TARGET_RANGES``)."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown target fields: {', '.join(unknown)}")
    out: dict[str, int | None] = {}
    problems = []
    for name in FIELDS:
        raw = values.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()) or (
                isinstance(raw, float) and raw != raw):
            if name == "vwp_days":
                problems.append(Problem("targets.range", name,
                                        f"{LABELS[name]}: required"))
            out[name] = None
            continue
        try:
            number = float(str(raw).strip())
            if number != int(number):
                raise ValueError
        except (ValueError, OverflowError):
            problems.append(Problem("targets.number", name,
                                    f"{LABELS[name]}: {str(raw)[:20]!r} is not a whole number"))
            continue
        lo, hi = TARGET_RANGES[name]
        if not lo <= number <= hi:
            problems.append(Problem("targets.range", name,
                                    f"{LABELS[name]}: {int(number)} is outside {lo}–{hi}"))
            continue
        out[name] = int(number)
    return (None, problems) if problems else (HerdTargets(**out), [])


def herd_targets(session: Session, customer_id: int) -> HerdTargets:
    """The customer's targets as the user's row security shows them (the defaults when none
    are set)."""
    row = session.execute(text(f"SELECT {', '.join(FIELDS)} FROM core.herd_targets "
                               "WHERE customer_id = :c"), {"c": customer_id}).mappings().first()
    return HerdTargets() if row is None else HerdTargets(**dict(row))


def may_set_targets(session: Session) -> bool:
    return has_permission(session, "targets:write")


def save_targets(session: Session, customer_id: int, values: dict[str, object]) -> HerdTargets:
    """Check ``values`` and store them as the customer's targets (all or nothing).

    Raises ``RecordRefused`` naming every problem (nothing written), ``NotFound`` for a
    customer the user does not see."""
    if session.execute(text("SELECT 1 FROM core.customers WHERE id = :c"),
                       {"c": customer_id}).first() is None:
        raise NotFound(f"customer {customer_id}")
    if not may_set_targets(session):
        raise RecordRefused([Problem("targets.permission", "",
                                     "herd targets are set by the customer's admin or vet")])
    targets, problems = check_targets(values)
    if problems:
        raise RecordRefused(problems)
    assert targets is not None
    session.execute(text(f"""
        INSERT INTO core.herd_targets (customer_id, {', '.join(FIELDS)})
        VALUES (:customer_id, {', '.join(':' + f for f in FIELDS)})
        ON CONFLICT (customer_id) DO UPDATE SET
          {', '.join(f'{f} = EXCLUDED.{f}' for f in FIELDS)}, updated_at = now()"""),
        {"customer_id": customer_id, **targets.as_dict()})
    return targets


# A KPI of ``HerdKpis`` against its target: (target field, the KPI is a rate, higher is better).
KPI_TARGETS = {
    "heat_detection_rate": ("submission_rate_pct", True, True),
    "conception_rate": ("conception_rate_pct", True, True),
    "pregnancy_rate_21d": ("pregnancy_rate_pct", True, True),
    "days_open": ("days_open", False, False),
    "calving_interval": ("calving_interval_days", False, False),
}


@dataclass(frozen=True)
class TargetCheck:
    """A KPI against the herd's target: ``target`` in the KPI's unit (a rate as a fraction),
    ``met`` is ``None`` when the KPI has no value."""

    target: float
    higher_is_better: bool
    met: bool | None


def check_against_targets(values: dict[str, object], targets: HerdTargets
                          ) -> dict[str, TargetCheck]:
    """Each KPI of ``values`` (``HerdKpis.as_dict()``) that has a target set: the target and
    whether it is met. A rate meets its target at or above it, days open and calving interval
    at or below it (the same targets the Reproduction page draws as dashed lines)."""
    out = {}
    set_ = targets.as_dict()
    for kpi, (name, rate, higher) in KPI_TARGETS.items():
        if set_[name] is None or kpi not in values:
            continue
        goal = set_[name] / 100 if rate else float(set_[name])
        value = values[kpi]
        met = None if value is None else (value >= goal if higher else value <= goal)
        out[kpi] = TargetCheck(goal, higher, met)
    return out
