"""Curated notebooks run top to bottom on platform data (papermill), so they never rot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import papermill
import pytest

from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd
from reprotech_core.store.snapshots import write_snapshots

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def store(db, system, tmp_path_factory):
    herd = simulate_herd(n_animals=60, n_snps=300, seed=11, n_customers=1, n_herds=2)
    manifest = PanelManifest(chip="NbChip300", snps=herd.genotypes.snps)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "nb-farm"}, reference_code="nb-ref",
                   barcode_prefix="NB", animal_prefix="NBCAN")
        ingest_genotypes(s, as_lab_file(herd.genotypes, np.arange(60), barcode_prefix="NB"), manifest=manifest,
                         batch_name="NB-1", source_sha256="nb-1", source_file="simulated")
    folder = tmp_path_factory.mktemp("store")
    write_snapshots(db, system, folder)
    return folder


@pytest.mark.slow
def test_genotype_analytics_notebook_runs(store, tmp_path):
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "research" / "genotype_analytics.ipynb"),
                               str(out), parameters={"store": str(store)}, kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    text = out.read_text()
    assert "frequency" in text and "in snp_stats" in text
