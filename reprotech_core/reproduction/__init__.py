"""Reproduction and lab records: entry, rules, bulk import and KPIs.

- ``records``: the entries (plain values) forms, imports and the demo fill in, and ``Problem``
- ``book``: the herd book and every rule, judged before anything is written
- ``entry``: one function per record type (``record_insemination`` …) and inventory moves
- ``bulk_import``: CSV/Excel import, all or nothing (or the clean rows on request), idempotent
- ``kpis``: the KPI definitions as pure functions over DataFrames
- ``queries``: ``herd_kpis``, ``kpi_breakdown`` and the semen/embryo stock of a customer, from
  the database
- ``bredsum``: the breeding summary (21-day cycle table, pregnancy status, calving interval,
  age at first calving) the Reproduction page shows
- ``forms``: what the "Record work" page calls (events, uploads, receipts, moves, stock)

See docs/reproduction.md.
"""

from reprotech_core.reproduction.bulk_import import ImportReport, RowError, import_events
from reprotech_core.reproduction.entry import (
    move_embryo,
    move_straws,
    receive_embryos,
    receive_semen,
    receive_semen_many,
    record_calving,
    record_diagnosis,
    record_exit,
    record_flush,
    record_heat,
    record_insemination,
    record_ivf_session,
    record_transfer,
)
from reprotech_core.reproduction.kpis import HerdKpis, ReproFrames
from reprotech_core.reproduction.queries import herd_kpis, kpi_breakdown, load_frames
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    EmbryoGrade,
    EmbryoReceipt,
    ExitEntry,
    FlushEntry,
    HeatEntry,
    InseminationEntry,
    IvfEntry,
    Problem,
    RecordRefused,
    SemenReceipt,
    TransferEntry,
)

__all__ = [
    "CalvingEntry", "DiagnosisEntry", "EmbryoGrade", "EmbryoReceipt", "ExitEntry", "FlushEntry", "HeatEntry", "HerdKpis", "ImportReport",
    "InseminationEntry", "IvfEntry", "Problem", "RecordRefused", "ReproFrames", "RowError",
    "SemenReceipt", "TransferEntry", "herd_kpis", "import_events", "kpi_breakdown",
    "load_frames", "move_embryo", "move_straws", "receive_embryos", "receive_semen", "receive_semen_many",
    "record_calving", "record_diagnosis", "record_exit", "record_flush", "record_heat", "record_insemination",
    "record_ivf_session",
    "record_transfer",
]
