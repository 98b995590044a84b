"""KPIs and semen/embryo stock of a customer's herds from the database, for dashboards,
notebooks and the CLI.

The records are read through the reader's row security (``core.reproduction_services`` is a
``security_invoker`` view), then the pure functions of :mod:`~reprotech_core.reproduction.kpis`
compute the KPIs, so a dashboard and a notebook get the same numbers by the same definitions.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.db.frames import rows_frame
from reprotech_core.reproduction.bredsum import BreedingSummary
from reprotech_core.reproduction.bredsum import breeding_summary as breeding_summary_from
from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    EXIT_COLUMNS,
    FLUSH_COLUMNS,
    HEAT_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    VOLUNTARY_WAITING_DAYS,
    HerdKpis,
    ReproFrames,
    frame,
    herd_kpis_from,
    kpi_breakdown_from,
)
from reprotech_core.reproduction.targets import herd_targets
from reprotech_core.reproduction.worklists import FEMALE_COLUMNS, worklist_from

_SQL = {
    "services": """
        SELECT s.cow_id, s.service_date, s.kind, b.official_id, s.technician, h.code,
               i.service_type
          FROM core.reproduction_services s
          LEFT JOIN core.animals b ON b.id = s.sire_id
          LEFT JOIN core.herds h ON h.id = s.herd_id
          LEFT JOIN core.inseminations i ON s.kind = 'ai' AND i.id = s.record_id
         WHERE s.customer_id = :c""",
    "diagnoses": """
        SELECT cow_id, diagnosis_date, result FROM core.pregnancy_diagnoses
         WHERE customer_id = :c""",
    "calvings": """
        SELECT DISTINCT k.dam_id, k.calving_date, h.code
          FROM core.calvings k JOIN core.animals a ON a.id = k.dam_id
          LEFT JOIN core.herds h ON h.id = a.herd_id
         WHERE k.customer_id = :c""",
    "flushes": """
        SELECT f.flush_date, d.official_id, s.official_id, h.code, count(e.id),
               count(e.id) FILTER (WHERE e.stage BETWEEN 4 AND 9 AND e.quality BETWEEN 1 AND 3)
          FROM core.embryo_flushes f
          JOIN core.animals d ON d.id = f.donor_id
          LEFT JOIN core.animals s ON s.id = f.sire_id
          LEFT JOIN core.herds h ON h.id = d.herd_id
          LEFT JOIN core.embryos e ON e.flush_id = f.id
         WHERE f.customer_id = :c
         GROUP BY f.id, d.official_id, s.official_id, h.code""",
    "ivf": """
        SELECT v.opu_date, d.official_id, s.official_id, h.code, v.oocytes_collected,
               v.oocytes_cleaved, v.blastocysts
          FROM core.ivf_sessions v
          JOIN core.animals d ON d.id = v.donor_id
          LEFT JOIN core.animals s ON s.id = v.sire_id
          LEFT JOIN core.herds h ON h.id = d.herd_id
         WHERE v.customer_id = :c""",
    "exits": """
        SELECT animal_id, exit_date FROM core.animal_exits WHERE customer_id = :c""",
    "heats": """
        SELECT cow_id, heat_date FROM core.heat_observations WHERE customer_id = :c""",
}
# Heat or timed AI (inseminations only) rides along for the breakdown by service type.
_COLUMNS = {"services": (*SERVICE_COLUMNS, "service_type"), "diagnoses": DIAGNOSIS_COLUMNS,
            "calvings": CALVING_COLUMNS, "flushes": FLUSH_COLUMNS, "ivf": IVF_COLUMNS,
            "exits": EXIT_COLUMNS, "heats": HEAT_COLUMNS}


def load_frames(session: Session, customer_id: int) -> ReproFrames:
    """The customer's reproduction records as the KPI functions take them."""
    return ReproFrames(**{name: frame(session.execute(text(sql), {"c": customer_id}).all(),
                                      _COLUMNS[name]) for name, sql in _SQL.items()})


def records_version(session: Session, customer_id: int) -> tuple:
    """A cheap fingerprint of the customer's reproduction records (count and newest id of each
    table the KPIs and the to-do list read, heats seen included, and the herd's targets, whose
    waiting period changes the KPIs): cached figures are keyed by it, so a record entered or
    removed, or a new waiting period, shows on the next page load."""
    return tuple(session.execute(text("""
        SELECT (SELECT (count(*), max(id))::text FROM core.inseminations WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.embryo_transfers
                 WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.pregnancy_diagnoses
                 WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.calvings WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.animal_exits WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.embryo_flushes WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.ivf_sessions WHERE customer_id = :c),
               (SELECT (count(*), max(id))::text FROM core.heat_observations
                 WHERE customer_id = :c),
               (SELECT (vwp_days, updated_at)::text FROM core.herd_targets
                 WHERE customer_id = :c)
        """), {"c": customer_id}).one())


def females_in_herd(session: Session, customer_id: int) -> pd.DataFrame:
    """The customer's females that have not left the herd (``worklists.FEMALE_COLUMNS``)."""
    rows = session.execute(text("""
        SELECT a.id, a.official_id, a.birth_date, h.code FROM core.animals a
          LEFT JOIN core.herds h ON h.id = a.herd_id
         WHERE a.customer_id = :c AND a.sex = 'F'
           AND NOT EXISTS (SELECT 1 FROM core.animal_exits x WHERE x.animal_id = a.id)
         ORDER BY a.official_id"""), {"c": customer_id}).all()
    return rows_frame(rows, FEMALE_COLUMNS)


def females(session: Session, customer_id: int) -> pd.DataFrame:
    """Every female of the customer, also those that left the herd (``FEMALE_COLUMNS``): the
    age at first calving is a fact of the cows that left too."""
    rows = session.execute(text("""
        SELECT a.id, a.official_id, a.birth_date, h.code FROM core.animals a
          LEFT JOIN core.herds h ON h.id = a.herd_id
         WHERE a.customer_id = :c AND a.sex = 'F' ORDER BY a.official_id"""),
        {"c": customer_id}).all()
    return rows_frame(rows, FEMALE_COLUMNS)


def breeding_summary(session: Session, customer_id: int, *, today: date | None = None,
                     vwp_days: int = VOLUNTARY_WAITING_DAYS) -> BreedingSummary:
    """The herd's breeding summary on ``today`` (see ``bredsum.breeding_summary``)."""
    return breeding_summary_from(load_frames(session, customer_id),
                                 females(session, customer_id), today=today or date.today(),
                                 vwp_days=vwp_days)


def worklist(session: Session, customer_id: int, *, today: date | None = None) -> pd.DataFrame:
    """The herd's reproduction to-do list on ``today`` (see ``worklists``)."""
    return worklist_from(load_frames(session, customer_id), females_in_herd(session, customer_id),
                         today=today or date.today())


def herd_kpis(session: Session, customer_id: int, *, start: date | None = None,
              end: date | None = None, as_of: date | None = None) -> HerdKpis:
    """The customer's KPIs for records dated in [start, end] (all when not given), with the
    herd's own voluntary waiting period (``core.herd_targets``), as every page shows them."""
    return herd_kpis_from(load_frames(session, customer_id), start=start, end=end, as_of=as_of,
                          vwp_days=herd_targets(session, customer_id).vwp_days)


def kpi_breakdown(session: Session, customer_id: int, by: str, *, start: date | None = None,
                  end: date | None = None, as_of: date | None = None) -> pd.DataFrame:
    """KPIs per ``herd``, ``month``, ``sire``, ``technician``, ``service_number``,
    ``lactation`` or ``service_type`` (see ``kpi_breakdown_from``)."""
    return kpi_breakdown_from(load_frames(session, customer_id), by, start=start, end=end,
                              as_of=as_of, vwp_days=herd_targets(session, customer_id).vwp_days)


# -- stock -------------------------------------------------------------------------------------
SEMEN_STOCK_COLUMNS = ["lot_id", "herd", "bull", "lot", "tank", "canister", "straws"]
EMBRYO_STOCK_COLUMNS = ["code", "grade", "preservation", "sire", "herd", "tank", "canister"]

# Outer joins: a lot or embryo whose bull or sire the reader cannot see is still listed.
_SEMEN_STOCK = """
    SELECT l.id, h.code, b.official_id, l.lot_code, l.tank, l.canister, l.straws_in_stock
      FROM core.semen_lots l
      JOIN core.herds h ON h.id = l.herd_id
      LEFT JOIN core.animals b ON b.id = l.bull_id
     WHERE l.customer_id = :c AND l.straws_in_stock > 0
     ORDER BY h.code, b.official_id, l.lot_code, l.tank, l.canister"""
_EMBRYO_STOCK = """
    SELECT e.code, e.stage || '/' || e.quality, e.preservation, s.official_id, h.code, e.tank,
           e.canister
      FROM core.embryos e
      JOIN core.herds h ON h.id = e.herd_id
      LEFT JOIN core.animals s ON s.id = e.sire_id
     WHERE e.customer_id = :c AND e.status = 'in_stock'
     ORDER BY h.code, e.code"""


def semen_stock(session: Session, customer_id: int) -> pd.DataFrame:
    """The customer's semen lots with straws in stock, one row per herd, bull, lot, tank and
    canister (``lot_id`` is what ``entry.move_straws`` takes)."""
    rows = session.execute(text(_SEMEN_STOCK), {"c": customer_id}).all()
    return rows_frame(rows, SEMEN_STOCK_COLUMNS)


def embryo_stock(session: Session, customer_id: int) -> pd.DataFrame:
    """The customer's embryos in stock; ``grade`` is IETS ``stage/quality``."""
    rows = session.execute(text(_EMBRYO_STOCK), {"c": customer_id}).all()
    return rows_frame(rows, EMBRYO_STOCK_COLUMNS)
