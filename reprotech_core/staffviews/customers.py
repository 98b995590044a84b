"""A vet's or technician's customers: herd figures, reproduction KPIs and the animals.

"My customers" are the rows of ``core.user_customer_assignments`` for the signed-in actor
(``core.actor_id()``), which its row security shows to that user only. A customer id from a
URL is accepted only when it is one of those: the reference catalogue, which every user may
read, is not a customer anyone is assigned to, and another vet's customer is invisible to
row security anyway. Either way the answer is :class:`NotFound`, naming nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core import mail
from reprotech_core.db.session import Identity
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.portal.exports import csv_bytes
from reprotech_core.reproduction.kpis import HerdKpis, herd_kpis_from, kpi_breakdown_from
from reprotech_core.reproduction.queries import load_frames, worklist
from reprotech_core.reproduction.targets import herd_targets
from reprotech_core.settings import Settings

CUSTOMER_COLUMNS = ("id", "code", "name", "tier", "herds", "animals", "females", "genotyped",
                    "samples_pending", "samples_failed", "last_service")

_ASSIGNED = text(
    """
    SELECT c.id, c.code, c.name, c.tier,
           (SELECT count(*) FROM core.herds h WHERE h.customer_id = c.id) AS herds,
           (SELECT count(*) FROM core.animals a WHERE a.customer_id = c.id
               AND NOT EXISTS (SELECT 1 FROM core.animal_exits x WHERE x.animal_id = a.id))
             AS animals,
           (SELECT count(*) FROM core.animals a WHERE a.customer_id = c.id AND a.sex = 'F'
               AND NOT EXISTS (SELECT 1 FROM core.animal_exits x WHERE x.animal_id = a.id))
             AS females,
           (SELECT count(DISTINCT g.animal_id) FROM core.genotypes g
             WHERE g.customer_id = c.id AND NOT EXISTS (
                   SELECT 1 FROM core.animal_exits x WHERE x.animal_id = g.animal_id))
             AS genotyped,
           (SELECT count(*) FROM core.samples sa WHERE sa.customer_id = c.id
               AND NOT EXISTS (SELECT 1 FROM core.genotypes g WHERE g.sample_id = sa.id))
             AS samples_pending,
           (SELECT count(*) FROM core.sample_qc_latest q
             WHERE q.customer_id = c.id AND q.decision = 'fail') AS samples_failed,
           (SELECT max(s.service_date) FROM core.reproduction_services s
             WHERE s.customer_id = c.id) AS last_service
      FROM core.user_customer_assignments ua
      JOIN core.customers c ON c.id = ua.customer_id
     WHERE ua.user_id = core.actor_id() AND c.active
     ORDER BY c.name, c.code
    """
)


def assigned_customers(session: Session) -> pd.DataFrame:
    """The actor's assigned customers with herd figures (empty for an unassigned user):
    animals, females, genotyped animals, samples still waiting for genotypes, samples whose
    latest QC decision is ``fail`` (a vet's cue to take a new sample), last service date."""
    rows = session.execute(_ASSIGNED).all()
    out = pd.DataFrame(rows, columns=list(CUSTOMER_COLUMNS))
    out["genotyped_share"] = (out["genotyped"] / out["animals"].where(out["animals"] > 0)
                              ).astype(float)
    return out


@dataclass(frozen=True)
class CustomerView:
    """One assigned customer: identity, per-herd figures and reproduction KPIs."""

    id: int
    code: str
    name: str
    tier: str
    herds: pd.DataFrame  # herd, name, animals, females, genotyped
    kpis: HerdKpis
    kpis_by_herd: pd.DataFrame
    period: tuple[date | None, date]  # (None = every record, today)


def assigned_customer(session: Session, customer_id: int) -> tuple[int, str, str, str]:
    """``(id, code, name, tier)`` of an assigned customer, else :class:`NotFound`."""
    row = session.execute(text(
        """
        SELECT c.id, c.code, c.name, c.tier
          FROM core.user_customer_assignments ua
          JOIN core.customers c ON c.id = ua.customer_id
         WHERE ua.user_id = core.actor_id() AND c.id = :c
        """), {"c": customer_id}).first()
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    return row.id, row.code, row.name, row.tier


def herd_figures(session: Session, customer_id: int) -> pd.DataFrame:
    """Per herd of the customer: animals and females in the herd, genotyped animals (of those
    in the herd), and animals that left (sold, slaughtered, died); animals without a herd as
    ``(no herd)``, so the totals add up."""
    rows = session.execute(text(
        """
        SELECT coalesce(h.code, '(no herd)') AS herd, coalesce(h.name, '') AS name,
               count(a.id) FILTER (WHERE x.id IS NULL) AS animals,
               count(a.id) FILTER (WHERE x.id IS NULL AND a.sex = 'F') AS females,
               count(a.id) FILTER (WHERE x.id IS NULL AND EXISTS (
                   SELECT 1 FROM core.genotypes g WHERE g.animal_id = a.id)) AS genotyped,
               count(x.id) AS left_herd
          FROM core.animals a LEFT JOIN core.herds h ON h.id = a.herd_id
          LEFT JOIN core.animal_exits x ON x.animal_id = a.id
         WHERE a.customer_id = :c
         GROUP BY 1, 2 ORDER BY 1
        """), {"c": customer_id}).all()
    return pd.DataFrame(rows, columns=["herd", "name", "animals", "females", "genotyped",
                                       "left_herd"])


def customer_view(session: Session, customer_id: int, *, today: date | None = None,
                  days: int | None = 365) -> CustomerView:
    """The customer's page data; KPIs over the last ``days`` days, or over every record when
    ``days`` is None (services, cycles, calvings and embryo work dated in the period,
    outcomes looked up until ``today``)."""
    cid, code, name, tier = assigned_customer(session, customer_id)
    today = today or date.today()
    if days is not None and days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = None if days is None else today - timedelta(days=days)
    frames = load_frames(session, cid)  # read once: the same records feed both tables
    vwp = herd_targets(session, cid).vwp_days  # the herd's own waiting period, as its portal
    return CustomerView(
        id=cid, code=code, name=name, tier=tier,
        herds=herd_figures(session, cid),
        kpis=herd_kpis_from(frames, start=start, end=today, as_of=today, vwp_days=vwp),
        kpis_by_herd=kpi_breakdown_from(frames, "herd", start=start, end=today, as_of=today,
                                        vwp_days=vwp),
        period=(start, today),
    )


KPI_LABELS = {
    "services": ("Services", "count"),
    "conceptions": ("Conceptions", "count"),
    "conception_rate": ("Conception rate", "percent"),
    "services_per_conception": ("Services per conception", "number"),
    "pregnancy_rate_21d": ("21-day pregnancy rate", "percent"),
    "heat_detection_rate": ("Heat-detection rate", "percent"),
    "days_open": ("Days open", "days"),
    "calving_interval": ("Calving interval", "days"),
    "pregnancy_loss": ("Pregnancy loss", "percent"),
    "embryos_per_flush": ("Embryos per flush", "number"),
    "transferable_embryos_per_flush": ("Transferable embryos per flush", "number"),
    "blastocyst_rate": ("IVF blastocyst rate", "percent"),
    "pregnancies_per_transfer": ("Pregnancies per transfer", "percent"),
}


def format_kpi(value: object, kind: str) -> str:
    """A KPI for people: ``None`` (no denominator in the period) reads "no data"."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "no data"
    if kind == "percent":
        return f"{100 * float(value):.1f} %"
    if kind == "days":
        return f"{float(value):.0f} d"
    if kind == "number":
        return f"{float(value):.2f}"
    return f"{int(value)}"  # type: ignore[call-overload]


def kpi_table(kpis: HerdKpis) -> pd.DataFrame:
    """The KPIs as a two-column table (``KPI``, ``value``) in a fixed, readable order."""
    values = kpis.as_dict()
    return pd.DataFrame([(label, format_kpi(values[key], kind))
                         for key, (label, kind) in KPI_LABELS.items()],
                        columns=["KPI", "value"])


def customer_animals(session: Session, customer_id: int, *, search: str = "",
                     limit: int = 500) -> pd.DataFrame:
    """The customer's animals (official ID, name, sex, birth date, herd, genotyped), newest
    first, filtered by a case-insensitive substring of the official ID or name."""
    assigned_customer(session, customer_id)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    rows = session.execute(text(
        """
        SELECT a.id, a.official_id, coalesce(a.name, '') AS name, a.sex, a.birth_date,
               coalesce(h.code, '') AS herd,
               EXISTS (SELECT 1 FROM core.genotypes g WHERE g.animal_id = a.id) AS genotyped
          FROM core.animals a LEFT JOIN core.herds h ON h.id = a.herd_id
         WHERE a.customer_id = :c
           AND (:q = '' OR a.official_id ILIKE :like OR coalesce(a.name, '') ILIKE :like)
         ORDER BY a.birth_date DESC NULLS LAST, a.official_id
         LIMIT :n
        """), {"c": customer_id, "q": search.strip(),
               "like": f"%{_escape_like(search.strip())}%", "n": limit}).all()
    return pd.DataFrame(rows, columns=["id", "official_id", "name", "sex", "birth_date", "herd",
                                       "genotyped"])


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def email_todo(session: Session, settings: Settings, identity: Identity, customer_id: int,
               *, today: date | None = None) -> str:
    """Email the assigned customer's reproduction to-do list to the signed-in vet before the
    herd visit: one line per cow in the body (read on a phone in the barn) and the CSV
    attached. Returns the address; a user without one is refused by name
    (``notification.no_address``), nothing sent."""
    _, code, name, _ = assigned_customer(session, customer_id)  # NotFound if not theirs
    address = session.scalar(text("SELECT email FROM core.users WHERE id = :u"),
                             {"u": identity.user_id})
    if not address:
        raise RuleViolation("notification.no_address", f"{identity.username} has no email "
                            "address on record; an administrator can add one")
    today = today or date.today()
    todo = worklist(session, customer_id, today=today)
    lines = [f"{r.official_id}  {r.action}: {r.reason}"
             + (f" (due {r.due:%Y-%m-%d})" if not pd.isna(r.due) else "")
             for r in todo.itertuples()] or ["Nothing to do: no cow needs an examination, a "
                                             "check, a service, drying off or watching at "
                                             "calving."]
    sheet = todo.drop(columns=["cow"]).assign(
        due=todo["due"].dt.date, last_service=todo["last_service"].dt.date)
    mail.send(settings, to=[address], subject=f"To-do list for {name} on {today:%Y-%m-%d}",
              body=f"Reproduction to-do list for {name} ({code}) on {today:%Y-%m-%d}: "
                   f"{len(todo)} cow(s).\n\n" + "\n".join(lines) + "\n",
              attachments=[(f"{code}-to-do-{today:%Y-%m-%d}.csv", csv_bytes(sheet),
                            "text/csv")])
    return address
