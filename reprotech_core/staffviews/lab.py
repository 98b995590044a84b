"""The genotyping lab for lab staff: batches through their stages, QC per batch and chip,
failed samples.

Batches are lab records read by permission (``lab:read``); samples, genotypes and QC decisions
are tenant records, so a technician's counts cover only their assigned customers' samples,
while lab operations see every customer's. A sample's decision is its latest one (a sample
sent to review and decided again counts once, by its last decision): the view
``core.sample_qc_latest``, read under the reader's row security.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.lab import BATCH_STAGES
from reprotech_core.errors import PermissionDenied
from reprotech_core.roles import has_permission

#: The stages a batch walks, in order (``failed`` may follow any open stage).
STAGE_ORDER = tuple(s for s in BATCH_STAGES if s != "failed")

def require_lab(session: Session) -> None:
    """Refuse actors without ``lab:read`` (the page is lab staff's; nobody else's data)."""
    if not has_permission(session, "lab:read"):
        raise PermissionDenied("the lab views need the lab:read permission")


def batches(session: Session) -> pd.DataFrame:
    """One row per batch: stage, chip, when it reached its stage, samples, genotyped, QC
    decisions (pass/review/fail) and the mean call rate; newest first."""
    require_lab(session)
    rows = session.execute(text(
        """
        SELECT b.id, b.name AS batch, b.stage, coalesce(p.name, '') AS chip, b.created_at,
               coalesce((SELECT max(e.occurred_at) FROM core.batch_stage_events e
                          WHERE e.batch_id = b.id), b.created_at) AS stage_since,
               (SELECT count(*) FROM core.samples s WHERE s.batch_id = b.id) AS samples,
               (SELECT count(*) FROM core.genotypes g WHERE g.batch_id = b.id) AS genotyped,
               (SELECT avg(g.call_rate) FROM core.genotypes g WHERE g.batch_id = b.id)
                 AS mean_call_rate,
               count(qc.sample_id) FILTER (WHERE qc.decision = 'pass') AS qc_pass,
               count(qc.sample_id) FILTER (WHERE qc.decision = 'review') AS qc_review,
               count(qc.sample_id) FILTER (WHERE qc.decision = 'fail') AS qc_fail
          FROM core.genotyping_batches b
          LEFT JOIN core.snp_panels p ON p.id = b.panel_id
          LEFT JOIN core.sample_qc_latest qc ON qc.batch_id = b.id
         GROUP BY b.id, p.name
         ORDER BY b.created_at DESC, b.id DESC
        """)).all()
    return pd.DataFrame(rows, columns=["id", "batch", "stage", "chip", "created_at",
                                       "stage_since", "samples", "genotyped", "mean_call_rate",
                                       "qc_pass", "qc_review", "qc_fail"])


def stage_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Batches per stage, every stage listed in pipeline order (zero when none)."""
    order = [*STAGE_ORDER, "failed"]
    counts = table["stage"].value_counts() if len(table) else pd.Series(dtype=int)
    return pd.DataFrame({"stage": order,
                         "batches": [int(counts.get(s, 0)) for s in order]})


def stage_history(session: Session) -> pd.DataFrame:
    """Every stage change of every batch (``batch, stage, occurred_at, note``), in time order,
    with how long the batch stayed in the stage it left (``hours_in_previous``)."""
    require_lab(session)
    rows = session.execute(text(
        """
        SELECT b.name AS batch, e.stage, e.occurred_at, coalesce(e.note, '') AS note
          FROM core.batch_stage_events e JOIN core.genotyping_batches b ON b.id = e.batch_id
         ORDER BY b.name, e.occurred_at, e.id
        """)).all()
    out = pd.DataFrame(rows, columns=["batch", "stage", "occurred_at", "note"])
    previous = out.groupby("batch")["occurred_at"].shift()
    out["hours_in_previous"] = ((out["occurred_at"] - previous).dt.total_seconds() / 3600.0
                                if len(out) else pd.Series(dtype=float))
    return out


def qc_by_batch_and_chip(session: Session) -> pd.DataFrame:
    """QC outcome per batch and chip: samples decided, pass/review/fail, failure share, call
    rate (mean, minimum) and mean heterozygosity of the decided samples."""
    require_lab(session)
    rows = session.execute(text(
        """
        SELECT b.name AS batch, coalesce(p.name, '') AS chip, count(*) AS decided,
               count(*) FILTER (WHERE qc.decision = 'pass') AS pass,
               count(*) FILTER (WHERE qc.decision = 'review') AS review,
               count(*) FILTER (WHERE qc.decision = 'fail') AS fail,
               avg(qc.call_rate) AS mean_call_rate, min(qc.call_rate) AS min_call_rate,
               avg(qc.heterozygosity) AS mean_heterozygosity
          FROM core.sample_qc_latest qc JOIN core.genotyping_batches b ON b.id = qc.batch_id
          LEFT JOIN core.snp_panels p ON p.id = b.panel_id
         GROUP BY b.name, p.name
         ORDER BY b.name, p.name
        """)).all()
    out = pd.DataFrame(rows, columns=["batch", "chip", "decided", "pass", "review", "fail",
                                      "mean_call_rate", "min_call_rate", "mean_heterozygosity"])
    out["fail_share"] = (out["fail"] / out["decided"]).astype(float)
    return out


def qc_samples(session: Session, *, batch: str | None = None) -> pd.DataFrame:
    """Each decided sample's latest QC (for the call-rate/heterozygosity plot)."""
    require_lab(session)
    rows = session.execute(text(
        """
        SELECT b.name AS batch, s.barcode, qc.decision, qc.call_rate, qc.heterozygosity
          FROM core.sample_qc_latest qc JOIN core.samples s ON s.id = qc.sample_id
          JOIN core.genotyping_batches b ON b.id = qc.batch_id
         WHERE CAST(:b AS text) IS NULL OR b.name = :b
         ORDER BY b.name, s.barcode
        """), {"b": batch}).all()
    return pd.DataFrame(rows, columns=["batch", "barcode", "decision", "call_rate",
                                       "heterozygosity"])


def failed_samples(session: Session) -> pd.DataFrame:
    """Samples whose latest decision is ``fail`` or ``review``, with the reasons, for the lab
    to act on (re-extract, re-genotype, or resolve a record); worst first."""
    require_lab(session)
    rows = session.execute(text(
        """
        SELECT b.name AS batch, coalesce(p.name, '') AS chip, s.barcode, c.code AS customer,
               a.official_id AS animal, qc.decision, qc.call_rate, qc.heterozygosity,
               array_to_string(qc.reasons, '; ') AS reasons, qc.decided_at
          FROM core.sample_qc_latest qc JOIN core.samples s ON s.id = qc.sample_id
          JOIN core.animals a ON a.id = s.animal_id
          JOIN core.customers c ON c.id = s.customer_id
          LEFT JOIN core.genotyping_batches b ON b.id = qc.batch_id
          LEFT JOIN core.snp_panels p ON p.id = b.panel_id
         WHERE qc.decision IN ('fail', 'review')
         ORDER BY qc.decision = 'review', b.name, s.barcode
        """)).all()
    return pd.DataFrame(rows, columns=["batch", "chip", "barcode", "customer", "animal",
                                       "decision", "call_rate", "heterozygosity", "reasons",
                                       "decided_at"])
