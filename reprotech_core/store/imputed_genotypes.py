"""The evaluation's genotypes: every released animal on one reference panel, whatever its chip.

An evaluation run needs one matrix of calls on one SNP set. Until imputation, runs took only
the most common chip and silently left animals typed on other chips without a GEBV. This reads
each panel's released, QC-passed genotypes (newest per animal, autosomes) through
:func:`~reprotech_core.store.genotypes.read_genotypes` and, when there is more than one panel,
puts every animal on the reference panel with :func:`~reprotech_core.genomics.imputation.
impute_to_reference` (Beagle 5). The report that comes back is the run's record of which panels
went in, how many animals were imputed (and which) and who was excluded by which rule.

With one panel nothing is imputed and Beagle is not started: the single-chip path is as fast
as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound
from reprotech_core.genomics.beagle import Beagle
from reprotech_core.genomics.imputation import Engine, choose_reference, impute_to_reference
import numpy as np

from reprotech_core.genomics.snpmap import GenotypeSet, autosomes, select_samples
from reprotech_core.settings import Settings, get_settings
from reprotech_core.store.genotypes import read_genotypes


@dataclass
class EvaluationGenotypes:
    """The calls an evaluation takes, the reference panel's name and the imputation report."""

    genotypes: GenotypeSet
    panel: str
    imputation: dict = field(default_factory=dict)


def beagle_from_settings(settings: Settings) -> Beagle:
    """Beagle as the settings ``imputation_*`` configure it."""
    return Beagle(command=settings.imputation_command, nthreads=settings.imputation_threads,
                  ne=settings.imputation_ne,
                  timeout_seconds=60.0 * settings.imputation_timeout_minutes)


def read_evaluation_genotypes(session: Session, *, customer_id: int | None = None,
                              settings: Settings | None = None,
                              engine: Engine | None = None) -> EvaluationGenotypes:
    """Released genotypes (QC not failed, newest per animal and chip) of every panel, on the
    reference panel; see the module. ``engine`` defaults to Beagle from the settings."""
    settings = settings or get_settings()
    panels = session.execute(text(
        """
        SELECT p.id, p.name FROM core.snp_panels p
         WHERE EXISTS (SELECT 1 FROM core.genotypes g
                         JOIN core.genotyping_batches b ON b.id = g.batch_id
                          AND b.stage = 'released'
                        WHERE g.panel_id = p.id)
         ORDER BY p.name
        """)).all()
    sets: dict[str, GenotypeSet] = {}
    for panel in panels:
        geno = autosomes(read_genotypes(
            session, panel_id=panel.id, label="animal", customer_id=customer_id,
            released=True, without_failed_qc=True, newest_per_animal=True))
        if len(geno.samples):
            sets[panel.name] = geno
    if not sets:
        raise NotFound("no released genotypes to evaluate; release a QC'd batch first")
    reference = choose_reference(sets, settings.imputation_reference_panel)
    if len(sets) == 1:
        geno = sets[reference]
        return EvaluationGenotypes(geno, reference, {
            "reference_panel": reference, "imputed_animals": 0, "excluded": {},
            "panels": [{"name": reference, "animals": len(geno.samples),
                        "snps": len(geno.snps), "common_with_reference": len(geno.snps)}]})
    result = impute_to_reference(
        sets, engine or beagle_from_settings(settings), reference=reference,
        min_common_snps=settings.imputation_min_common_snps,
        max_conflict_rate=settings.imputation_max_conflict_rate)
    geno = result.genotypes  # rows in animal-ID order, as the single-panel reader gives them
    geno = select_samples(geno, np.argsort(geno.samples.astype(np.int64), kind="stable"))
    return EvaluationGenotypes(geno, reference, result.report)
