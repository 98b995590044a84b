"""An evaluation run over two chips: every animal evaluated, low-density animals imputed by
Beagle, and the run's record says which panels went in and who was imputed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sqlalchemy import text

from data_models.evaluation import Phenotype
from reprotech_core.genomics.imputation import ImputationError
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import select_snps
from reprotech_core.settings import get_settings
from reprotech_core.store.evaluations import run_evaluation
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("beagle") is None,
                                 reason="Beagle 5 not installed (./run test installs it)")]


def _release(s, name: str) -> None:
    s.execute(text("UPDATE core.genotyping_batches SET stage = 'qc' WHERE name = :n"),
              {"n": name})
    s.execute(text("UPDATE core.genotyping_batches SET stage = 'released' WHERE name = :n"),
              {"n": name})


@pytest.fixture(scope="module")
def two_chip_run(db, system, tmp_path_factory):
    herd = simulate_herd(n_animals=300, n_snps=4000, seed=29, n_customers=1, n_herds=3)
    geno = herd.genotypes
    ld_idx = np.arange(0, len(geno.snps), 4)  # a low-density chip: every 4th SNP
    ld = select_snps(geno, ld_idx)
    low = np.arange(240, 300)  # the youngest 60 animals typed on the low-density chip
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "imp-one"}, reference_code="imp-ref",
                   barcode_prefix="IM", animal_prefix="IMCAN")
        ingest_genotypes(s, as_lab_file(geno, np.arange(240), barcode_prefix="IM"),
                         manifest=PanelManifest(chip="ImpChipHD", snps=geno.snps),
                         batch_name="IM-HD", source_sha256="im-hd", source_file="simulated")
        ingest_genotypes(s, as_lab_file(ld, low, barcode_prefix="IM"),
                         manifest=PanelManifest(chip="ImpChipLD", snps=ld.snps),
                         batch_name="IM-LD", source_sha256="im-ld", source_file="simulated")
        _release(s, "IM-HD"), _release(s, "IM-LD")
        customer = s.scalar(text("SELECT id FROM core.customers WHERE code = 'imp-one'"))
        ids = dict(s.execute(text("SELECT official_id, id FROM core.animals "
                                  "WHERE official_id LIKE 'IMCAN%' AND customer_id = :c"),
                              {"c": customer}).all())
        rows = [{"customer_id": customer, "animal_id": ids["IMCAN" + a[-9:]], "trait": t,
                 "value": float(v), "recorded_on": "2025-01-01"}
                for a, values in herd.phenotypes.iterrows() if "IMCAN" + a[-9:] in ids
                for t, v in values.items() if np.isfinite(v)]
        s.execute(Phenotype.__table__.insert(), rows)
        typed = s.execute(text(
            "SELECT p.name, array_agg(g.animal_id ORDER BY g.animal_id) FROM core.genotypes g "
            "JOIN core.snp_panels p ON p.id = g.panel_id WHERE g.customer_id = :c GROUP BY 1"),
            {"c": customer}).all()
    summary = run_evaluation(db, system, folder=tmp_path_factory.mktemp("imp"),
                             job_run_id=987700, customer_id=customer,
                             parentage_min_informative=100)
    with db.session(system) as s:
        params = s.scalar(text("SELECT parameters FROM core.evaluation_runs WHERE id = :r"),
                          {"r": summary.run_id})
        evaluated = set(s.scalars(text(
            "SELECT DISTINCT animal_id FROM core.evaluation_results WHERE run_id = :r"),
            {"r": summary.run_id}))
    return summary, params, dict(typed), evaluated


def test_every_animal_of_both_chips_is_evaluated(two_chip_run):
    summary, params, typed, evaluated = two_chip_run
    assert set(typed) == {"ImpChipHD", "ImpChipLD"}
    everyone = set(typed["ImpChipHD"]) | set(typed["ImpChipLD"])
    assert summary.animals == len(everyone) and evaluated == everyone
    assert summary.n_snps == params["n_snps"]
    assert params["panel"] == "ImpChipHD"


def test_the_run_records_panels_and_imputed_animals(two_chip_run):
    summary, params, typed, _ = two_chip_run
    imputation = params["imputation"]
    assert imputation["reference_panel"] == "ImpChipHD"
    panels = {p["name"]: p for p in imputation["panels"]}
    assert panels["ImpChipHD"]["animals"] == len(typed["ImpChipHD"])
    assert panels["ImpChipLD"]["animals"] == len(typed["ImpChipLD"])
    assert panels["ImpChipLD"]["common_with_reference"] == panels["ImpChipLD"]["snps"]
    assert imputation["imputed_animals"] == len(typed["ImpChipLD"])
    assert sorted(map(int, imputation["imputed_ids"])) == sorted(typed["ImpChipLD"])
    assert imputation["excluded"] == {} and imputation["engine"].startswith("Beagle")


def test_a_failing_imputation_is_a_failed_run_on_record(db, system, two_chip_run, tmp_path,
                                                        monkeypatch):
    """Beagle crashing stops the run before any input is ready: the job fails with the named
    rule and the run record says so (status failed, the rule, Beagle's message); no result
    of that run is stored, and the earlier run's results stand."""
    summary, params, _, evaluated = two_chip_run
    crashing = tmp_path / "crashing-beagle"
    crashing.write_text("#!/bin/sh\necho 'java.lang.OutOfMemoryError: Java heap space' >&2\n"
                        "exit 1\n")
    crashing.chmod(0o755)
    monkeypatch.setenv("REPROTECH_IMPUTATION_COMMAND", str(crashing))
    get_settings.cache_clear()
    try:
        with pytest.raises(ImputationError, match="OutOfMemoryError") as refused:
            run_evaluation(db, system, folder=tmp_path, job_run_id=987701,
                           customer_id=params["customer_id"], parentage_min_informative=100)
    finally:
        get_settings.cache_clear()
    assert refused.value.rule == "imputation.failed"
    with db.session(system) as s:
        run = s.execute(text(
            "SELECT id, status, parameters, finished_at FROM core.evaluation_runs "
            "WHERE (parameters->>'job_run_id')::int = 987701")).one()
        stored = s.scalar(text("SELECT count(*) FROM core.evaluation_results WHERE run_id = :r"),
                          {"r": run.id})
        earlier = s.scalar(text("SELECT count(DISTINCT animal_id) FROM core.evaluation_results "
                                "WHERE run_id = :r"), {"r": summary.run_id})
    assert run.status == "failed" and run.finished_at is not None
    assert run.parameters["error"]["rule"] == "imputation.failed"
    assert "OutOfMemoryError" in run.parameters["error"]["message"]
    assert stored == 0 and earlier == len(evaluated)
