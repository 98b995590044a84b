"""Time of a stored evaluation run (``run_evaluation``) with and without non-genotyped animals.

Two fresh embedded databases, one simulated herd (``simulate_herd``, records on every animal):

- ``gblup``: only the genotyped animals are registered (their parents outside the set are
  unknown), so the run is GBLUP of the genotyped, as before single-step;
- ``ssgblup``: every animal is registered and the same animals genotyped, so the run adds the
  non-genotyped animals by single-step.

Prints the run's timings (gather, GRM, GBLUP with REML, single-step, validation, total).

    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/single_step/stored_run.py \
        --animals 3000 --genotyped 0.5 --snps 5000
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from data_models.evaluation import Phenotype
from reprotech_core.db.migrate import app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import SimulatedHerd, simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.evaluations import run_evaluation
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd

CODES = {"CUST00": "b-one", "CUST01": "b-two"}


def only(herd: SimulatedHerd, keep: np.ndarray) -> SimulatedHerd:
    """The herd restricted to the animals ``keep`` (rows of the genotypes); parents outside
    it become unknown."""
    names = set(herd.genotypes.samples[keep])
    ped = herd.pedigree[herd.pedigree["animal"].isin(names)].copy()
    for col in ("sire", "dam", "true_sire"):
        ped[col] = ped[col].where(ped[col].isin(names), None)
    g = herd.genotypes
    return SimulatedHerd(
        genotypes=GenotypeSet(packed=g.packed[keep], snps=g.snps, samples=g.samples[keep],
                              sex=None if g.sex is None else g.sex[keep]),
        true_genotypes=herd.true_genotypes[keep], pedigree=ped.reset_index(drop=True),
        breeding_values=herd.breeding_values.loc[sorted(names)],
        phenotypes=herd.phenotypes.loc[sorted(names)], qtl=herd.qtl)


def stored_run(herd: SimulatedHerd, genotyped: np.ndarray) -> dict:
    """One run on a fresh platform: the run's method, animals and timings."""
    with scratch_platform(prefix="bench-ss") as settings:
        db = Database(app_url(settings))
        system = db.identity("system")
        with db.session(system) as s:
            place_herd(s, herd, customer_codes=CODES, reference_code="b-ref",
                       barcode_prefix="B", animal_prefix="BCAN")
            ingest_genotypes(s, as_lab_file(herd.genotypes, genotyped, barcode_prefix="B"),
                             manifest=PanelManifest(chip="BenchChip", snps=herd.genotypes.snps),
                             batch_name="B-1", source_sha256="b-1", source_file="simulated")
            for stage in ("qc", "released"):
                s.execute(text("UPDATE core.genotyping_batches SET stage = :st"), {"st": stage})
            ids = dict(s.execute(text("SELECT official_id, id FROM core.animals")).all())
            cust = dict(s.execute(text("SELECT id, customer_id FROM core.animals")).all())
            rows = [{"customer_id": cust[ids["BCAN" + a[-9:]]],
                     "animal_id": ids["BCAN" + a[-9:]], "trait": t, "value": float(v),
                     "recorded_on": date(2025, 1, 1)}
                    for a, values in herd.phenotypes.iterrows() if "BCAN" + a[-9:] in ids
                    for t, v in values.items() if np.isfinite(v)]
            s.execute(Phenotype.__table__.insert(), rows)
        with tempfile.TemporaryDirectory() as folder:
            summary = run_evaluation(db, system, folder=Path(folder), job_run_id=1,
                                     parentage_min_informative=100)
        db.dispose()
    return {"method": summary.method, "animals": summary.animals,
            "genotyped": summary.genotyped,
            **{k: round(v, 1) for k, v in summary.seconds.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=3000)
    ap.add_argument("--genotyped", type=float, default=0.5, help="share genotyped")
    ap.add_argument("--snps", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    herd = simulate_herd(n_animals=args.animals, n_snps=args.snps, seed=args.seed,
                         n_customers=2, n_herds=4, wrong_sire_rate=0.0)
    rng = np.random.default_rng(args.seed)
    n = len(herd.genotypes.samples)
    typed = np.sort(rng.choice(n, size=int(args.genotyped * n), replace=False))
    gblup_only = only(herd, typed)
    out = [stored_run(gblup_only, np.arange(len(typed))), stored_run(herd, typed)]
    print(pd.DataFrame(out).to_string(index=False))


if __name__ == "__main__":
    main()
