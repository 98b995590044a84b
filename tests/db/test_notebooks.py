"""Curated notebooks run top to bottom on platform data (papermill), so they never rot.

The research notebooks connect with the researcher's own notebook login (``w-res`` of the
``world`` fixture), never an admin login, and read the pseudonymised research views and the
Parquet store written from the same data.
"""

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
PANEL = "NbChip600"
N_ANIMALS = 120


@pytest.fixture(scope="module")
def store(db, system, tmp_path_factory):
    herd = simulate_herd(n_animals=N_ANIMALS, n_snps=600, seed=11, n_customers=2, n_herds=4)
    manifest = PanelManifest(chip=PANEL, snps=herd.genotypes.snps)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "nb-farm", "CUST01": "nb-farm2"},
                   reference_code="nb-ref", barcode_prefix="NB", animal_prefix="NBCAN")
        ingest_genotypes(s, as_lab_file(herd.genotypes, np.arange(N_ANIMALS),
                                        barcode_prefix="NB"),
                         manifest=manifest, batch_name="NB-1", source_sha256="nb-1",
                         source_file="simulated")
    folder = tmp_path_factory.mktemp("store")
    write_snapshots(db, system, folder)
    return folder


def run(name: str, tmp_path: Path, **parameters) -> str:
    out = tmp_path / name
    papermill.execute_notebook(str(NOTEBOOKS / "research" / name), str(out),
                               parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    return out.read_text()


@pytest.mark.slow
def test_genotype_analytics_notebook_runs(store, tmp_path):
    text = run("genotype_analytics.ipynb", tmp_path, store=str(store))
    assert "frequency" in text and "in snp_stats" in text and ":sha256=" in text


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), [
    ("getting_started.ipynb", ["genotyped animals x 600 SNPs", '\\"analysis\\": \\"diversity\\"']),
    ("population_diversity.ipynb", ["fst", "generations_ago",
                                    "mean_equivalent_generations"]),
    ("gwas.ipynb", ["mlm-loco-p3d", "lambda = ", "is_qtl"]),
    ("new_trait_gblup.ipynb", ["accuracy", "gblup_cross_validation"]),
])
def test_research_notebook_runs_as_researcher(store, world, tmp_path, name, expected):
    text = run(name, tmp_path, conninfo=world.logins["w-res"], store=str(store), panel=PANEL)
    for snippet in expected:
        assert snippet in text, snippet
    assert "NBCAN" not in text and "nb-farm" not in text  # pseudonyms only
