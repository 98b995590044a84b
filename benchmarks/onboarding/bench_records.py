"""Importing lactation records: ``reprotech records import`` next to a bare COPY of the same rows.

Registers three customers with the same herd (C cows), writes a CSV of L lactation records
(each cow's lactations 1, 2, … a year apart; milk, fat and protein, so 3 phenotypes per row)
for the first, then times in the same run:

1. ``import_records`` (read and check the file, parse and judge every row, read the stored
   phenotypes, write through row security with the audit trigger; one transaction), and the
   re-import of the same file (all *unchanged*: nothing written);
2. a ``COPY`` of the same phenotype rows (ids resolved beforehand) into ``core.phenotypes`` as
   the administrative login, triggers firing (the audit; no Python);
3. the same ``COPY`` with triggers off (``session_replication_role = replica``): the table's
   raw write floor.

    flock /tmp/reprotech-bench.lock env PYTHONPATH=. .venv/bin/python \\
        benchmarks/onboarding/bench_records.py --lactations 50000 --cows 10000

Results: benchmarks/onboarding/RECORDS.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

from benchmarks.copy_floor import timed_copy
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.records.performance_import import import_records

TRAITS = ("milk_305d", "fat_305d", "protein_305d")


def setup(db: Database, codes: list[str], cows: int) -> None:
    system = db.identity("system")
    for code in codes:
        with db.session(system) as s:
            c = accounts.create_customer(s, code=code, name=code, tier="enterprise")
            accounts.create_herd(s, customer=c, code=f"{code}-h", name="Main")
            register_animals(s, c, [AnimalRecord(f"{code}-C{n:06d}", "Holstein", "F",
                                                 date(2010, 1, 1), herd_code=f"{code}-h")
                                    for n in range(cows)])


def lactations(code: str, n: int, cows: int) -> list[tuple[str, int, date, float, float, float]]:
    rows = []
    for i in range(n):
        cow, k = i % cows, i // cows
        milk = 7000.0 + (cow * 37 + k * 511) % 5000
        rows.append((f"{code}-C{cow:06d}", k + 1, date(2012 + k, 1 + cow % 12, 1 + cow % 28),
                     milk, round(milk * 0.041, 1), round(milk * 0.034, 1)))
    return rows


def write_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["animal", "lactation", "calving_date", "milk_kg", "fat_kg", "protein_kg"])
        for cow, lact, day, milk, fat, protein in rows:
            w.writerow([cow, lact, day.isoformat(), milk, fat, protein])


def timed_import(url: str, code: str, path: Path) -> tuple[float, dict[str, int]]:
    db = Database(url)
    t = time.perf_counter()
    with db.session(db.identity("system"), reason="benchmark import") as s:
        report = import_records(s, accounts.customer_by_code(s, code), path)
    seconds = time.perf_counter() - t
    db.dispose()
    assert report.ok, report.errors[:3]
    return seconds, report.summary()


def copy_rows(conninfo: str, code: str, rows: list[tuple], *, triggers: bool) -> float:
    with psycopg.connect(conninfo) as conn:
        cid = conn.execute("SELECT id FROM core.customers WHERE code = %s", (code,)).fetchone()[0]
        ids = dict(conn.execute("SELECT official_id, id FROM core.animals WHERE customer_id = %s",
                                (cid,)).fetchall())
        buf = io.StringIO()
        for cow, _, day, *values in rows:
            for trait, value in zip(TRAITS, values, strict=True):
                buf.write(f"{cid}\t{ids[cow]}\t{trait}\t{value}\t{day}\n")
        data = buf.getvalue()
        return timed_copy(conn, "COPY core.phenotypes (customer_id, animal_id, trait, value, "
                          "recorded_on) FROM STDIN", data, triggers=triggers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lactations", type=int, default=50_000)
    parser.add_argument("--cows", type=int, default=10_000)
    args = parser.parse_args()
    codes = ["bench-records", "bench-copy", "bench-bare"]
    n, values = args.lactations, 3 * args.lactations
    with scratch_platform() as settings, tempfile.TemporaryDirectory() as tmp:
        db = Database(app_url(settings))
        t = time.perf_counter()
        setup(db, codes, args.cows)
        db.dispose()
        print(f"set-up: 3 x {args.cows} cows registered in {time.perf_counter() - t:.1f} s")
        path = Path(tmp) / "lactations.csv"
        write_csv(path, lactations(codes[0], n, args.cows))
        print(f"CSV: {n} lactations ({values} phenotypes), {path.stat().st_size / 1e6:.1f} MB")
        seconds, summary = timed_import(app_url(settings), codes[0], path)
        assert summary["new"] == values, summary
        again, summary = timed_import(app_url(settings), codes[0], path)
        assert summary["unchanged"] == values, summary
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        admin = admin_url(settings).replace("+psycopg", "")
        copy_s = copy_rows(admin, codes[1], lactations(codes[1], n, args.cows), triggers=True)
        bare_s = copy_rows(admin, codes[2], lactations(codes[2], n, args.cows), triggers=False)
    print(f"import_records: {seconds:.1f} s, {n / seconds:,.0f} rows/s "
          f"({values / seconds:,.0f} phenotypes/s); peak RSS {rss:.0f} MiB")
    print(f"re-import (all unchanged): {again:.1f} s, {n / again:,.0f} rows/s")
    print(f"COPY, triggers on (audit): {copy_s:.1f} s, {n / copy_s:,.0f} rows/s; "
          f"import / COPY = {seconds / copy_s:.1f}x")
    print(f"COPY, triggers off (floor): {bare_s:.2f} s, {n / bare_s:,.0f} rows/s; "
          f"import / floor = {seconds / bare_s:.1f}x")


if __name__ == "__main__":
    main()
