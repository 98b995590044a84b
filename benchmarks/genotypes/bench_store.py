"""Storing a genotyping batch in PostgreSQL: the database half of ingest.

Simulates N animals x M SNPs, registers them with samples in one customer, then times
``ingest_genotypes`` (sample matching, panel check, 2-bit rows, row security, the audit
trigger's SHA-256 of every row, batch stages; one transaction) and, as the floor, a ``COPY``
of the same packed rows into an unprotected table with no triggers, in the same run. Reports
peak RSS of this process.

    PYTHONPATH=. .venv/bin/python benchmarks/genotypes/bench_store.py --animals 1000 --snps 60000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import psycopg

from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--animals", type=int, default=1000)
    parser.add_argument("--snps", type=int, default=60_000)
    parser.add_argument("--without-audit", action="store_true",
                        help="diagnosis only: disable the genotypes audit trigger to see its cost")
    args = parser.parse_args()
    with scratch_platform() as settings:
        db = Database(app_url(settings))
        system = db.identity("system")
        t = time.perf_counter()
        herd = simulate_herd(n_animals=args.animals, n_snps=args.snps, seed=1, n_customers=1)
        simulate_s = time.perf_counter() - t
        with db.session(system) as s:
            place_herd(s, herd, customer_codes={"CUST00": "bench"}, reference_code="bench-ref",
                       tier="enterprise")
        if args.without_audit:
            with psycopg.connect(admin_url(settings).replace("+psycopg", "")) as admin:
                admin.execute("ALTER TABLE core.genotypes DISABLE TRIGGER audit")
        lab = as_lab_file(herd.genotypes, np.arange(args.animals))
        manifest = PanelManifest(chip="BenchChip", snps=herd.genotypes.snps)
        t = time.perf_counter()
        with db.session(system) as s:
            report = ingest_genotypes(s, lab, manifest=manifest, batch_name="BENCH",
                                      source_sha256="bench", source_file="simulated")
        store_s = time.perf_counter() - t
        with psycopg.connect(admin_url(settings).replace("+psycopg", "")) as admin:
            admin.execute("CREATE TABLE public.bare (id bigint, calls bytea)")
            t = time.perf_counter()
            with admin.cursor().copy("COPY public.bare (id, calls) FROM STDIN") as copy:
                for i, row in enumerate(lab.packed):
                    copy.write_row((i, row.tobytes()))
            admin.commit()
            copy_s = time.perf_counter() - t
        db.dispose()
        mb = lab.packed.nbytes / 1e6
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.animals} animals x {args.snps} SNPs = {mb:.1f} MB packed "
              f"(simulated in {simulate_s:.1f} s)")
        print(f"ingest_genotypes (store, RLS, audit SHA-256, stages): {store_s:.2f} s, "
              f"{report.stored} rows, {mb / store_s:.1f} MB/s")
        print(f"bare COPY of the same rows: {copy_s:.2f} s; ratio {store_s / copy_s:.1f}x")
        print(f"peak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
