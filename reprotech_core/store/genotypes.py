"""Stored genotypes read back as one :class:`~reprotech_core.genomics.snpmap.GenotypeSet`.

The platform keeps one 2-bit packed row per sample (``core.genotypes.calls``, and the same
bytes in the Parquet snapshots; see ARCHITECTURE.md, "Genotypes"). Every reader turns such
rows into the matrix the science takes — packed calls, sample IDs and the panel's SNP map
together — here and nowhere else, so that row order, row width and the map cannot drift apart
between the evaluation run, batch QC, the snapshots, customer exports and the researcher's
cohorts. Rows stay packed: a matrix of 10,000 animals x 60,000 SNPs is 150 MB, never unpacked
by the reader.

:func:`read_genotypes` selects rows of ``core.genotypes`` (row security applies: a session sees
what its identity may see); :func:`genotype_matrix` is the conversion it shares with the readers
of the pseudonymised research views and of the Parquet snapshots, which select their rows
elsewhere.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import Genotype, GenotypingBatch, Sample, SampleQcLatest
from reprotech_core.genomics.packing import packed_width
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.store.panels import load_panel

SampleLabel = Literal["animal", "barcode", "official_id"]
"""What names a row: the animal's database ID (evaluation runs, whose results are keyed by
animal), the sample's barcode (batch QC: the lab's name for the tube) or the official ID
(exports a customer reads)."""


def genotype_matrix(calls: Sequence[bytes], samples: Sequence[object], snps: SnpMap, *,
                    sex: np.ndarray | None = None) -> GenotypeSet:
    """Stored packed rows (``bytea`` from PostgreSQL, binary from Parquet) as one set.

    Each row is copied once into a writable ``uint8`` matrix. A row whose width does not fit
    the map is refused naming its sample: a stored row is only meaningful on its own panel's
    SNP order, and a silent reshape would shift every later animal's calls.
    """
    width = packed_width(len(snps))
    names = np.asarray(samples).astype(str)
    if len(names) != len(calls):
        raise ValueError(f"{len(calls)} genotype rows for {len(names)} sample IDs")
    packed = np.empty((len(calls), width), dtype=np.uint8)
    for i, row in enumerate(calls):
        if len(row) != width:
            raise ValueError(f"stored genotypes of sample {names[i]!r} have {len(row)} bytes; "
                             f"the panel's {len(snps)} SNPs take {width}")
        packed[i] = np.frombuffer(row, dtype=np.uint8)
    return GenotypeSet(packed=packed, samples=names, snps=snps, sex=sex)


def _qc_not_failed() -> ColumnElement[bool]:
    """The sample's latest QC decision (``core.sample_qc_latest``) is not ``fail``; no decision
    yet counts as a pass."""
    latest = (select(SampleQcLatest.c.decision)
              .where(SampleQcLatest.c.sample_id == Genotype.sample_id).scalar_subquery())
    return func.coalesce(latest, "pass") != "fail"


def read_genotypes(
    session: Session,
    *,
    panel_id: int,
    label: SampleLabel = "animal",
    customer_id: int | None = None,
    batch_id: int | None = None,
    exclude_batch_id: int | None = None,
    animal_ids: Collection[int] | None = None,
    released: bool = False,
    without_failed_qc: bool = False,
    newest_per_animal: bool = False,
) -> GenotypeSet:
    """Stored genotypes on one panel as a set, rows ordered by their ``label``.

    The selection narrows by every argument given: one customer's animals (exports), one
    batch's samples (batch QC) or the genotypes of ``animal_ids`` outside ``exclude_batch_id``
    (the parents batch QC checks against), only ``released`` batches whose samples are
    ``without_failed_qc`` (evaluation runs). ``newest_per_animal`` keeps an animal's most
    recent genotype when it was typed twice, so each animal enters a GRM once. ``sex`` is
    the recorded sex in PLINK coding (1 male, 2 female), which sex checks compare against.
    """
    name = {"animal": Genotype.animal_id, "barcode": Sample.barcode,
            "official_id": Animal.official_id}[label]
    query = (select(name.label("sample"), Animal.sex, Genotype.calls)
             .join(Sample, Sample.id == Genotype.sample_id)
             .join(Animal, Animal.id == Genotype.animal_id)
             .where(Genotype.panel_id == panel_id))
    if customer_id is not None:
        query = query.where(Genotype.customer_id == customer_id)
    if batch_id is not None:
        query = query.where(Genotype.batch_id == batch_id)
    if exclude_batch_id is not None:
        query = query.where(Genotype.batch_id != exclude_batch_id)
    if animal_ids is not None:
        query = query.where(Genotype.animal_id.in_(list(animal_ids)))
    if released:
        query = query.join(GenotypingBatch, (GenotypingBatch.id == Genotype.batch_id)
                           & (GenotypingBatch.stage == "released"))
    if without_failed_qc:
        query = query.where(_qc_not_failed())
    if newest_per_animal:
        newest = (query.ext(distinct_on(Genotype.animal_id))
                  .order_by(Genotype.animal_id, Genotype.created_at.desc()).subquery())
        query = select(newest).order_by(newest.c.sample)
    else:
        query = query.order_by(name)
    rows = session.execute(query).all()
    return genotype_matrix([r.calls for r in rows], [r.sample for r in rows],
                           load_panel(session, panel_id),
                           sex=np.array([1 if r.sex == "M" else 2 for r in rows], dtype=np.int8))
