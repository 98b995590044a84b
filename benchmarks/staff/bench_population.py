"""Population page at scale: PCA (2,000-animal sample), spectrum and heterozygosity from a
research snapshot of 10,000 animals x 60,000 SNPs (synthetic calls, realistic sizes).

    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/staff/bench_population.py

Prints the seconds of each step; results in README.md next to this file.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reprotech_core.genomics.packing import pack
from reprotech_core.staffviews import population


def write_store(folder: Path, n_animals: int, n_snps: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    base = folder / "research"
    base.mkdir(parents=True)
    p = np.clip(rng.beta(0.5, 0.5, n_snps), 0.01, 0.99)
    calls = []
    for start in range(0, n_animals, 1000):
        n = min(1000, n_animals - start)
        dos = rng.binomial(2, p, size=(n, n_snps)).astype(np.int8)
        dos[rng.random((n, n_snps)) < 0.005] = -1
        calls += [bytes(row) for row in pack(dos)]
    herds = [f"H{h:011x}" for h in rng.integers(0, 60, n_animals)]
    animals = pd.DataFrame({
        "animal": [f"A{i:011x}" for i in range(n_animals)], "herd": herds,
        "customer": [f"C{int(h[1:], 16) // 3:011x}" for h in herds], "breed": "Holstein",
        "sex": rng.choice(["M", "F"], n_animals), "birth_year": rng.integers(2010, 2026,
                                                                             n_animals),
        "panel": "Bench60k", "n_snps": n_snps, "call_rate": 0.995})
    pq.write_table(pa.Table.from_pandas(animals.assign(calls=calls), preserve_index=False),
                   base / "genotypes.parquet")
    maf = np.minimum(p, 1 - p)
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({
        "snp": [f"s{i}" for i in range(n_snps)],
        "chrom": [str(1 + i * 29 // n_snps) for i in range(n_snps)],
        "pos": np.arange(n_snps) * 40_000 % 100_000_000, "allele_a": "A", "allele_b": "B",
        "maf": maf, "panel": "Bench60k"}), preserve_index=False), base / "snp_stats.parquet")
    pq.write_table(pa.Table.from_pandas(animals.drop(columns=["n_snps"]).assign(
        heterozygosity=rng.normal(0.35, 0.02, n_animals)), preserve_index=False),
        base / "animal_stats.parquet")


def main(n_animals: int = 10_000, n_snps: int = 60_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_store(folder, n_animals, n_snps)
        print(f"synthetic snapshot {n_animals} x {n_snps}: {time.perf_counter() - t0:.1f} s")
        for name, step in (
            ("allele-frequency spectrum", lambda: population.allele_frequency_spectrum(folder)),
            ("heterozygosity by herd", lambda: population.heterozygosity_by_herd(folder)),
            ("PCA + genomic F (2,000 sample)", lambda: population.population_structure(folder)),
        ):
            t0 = time.perf_counter()
            step()
            print(f"{name}: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
