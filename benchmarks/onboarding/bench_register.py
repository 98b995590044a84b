"""Importing a herd register: ``reprotech herd import``'s path next to a bare COPY of the rows.

Writes a register CSV of N animals in generations (founder cows, then daughters of earlier
cows by AI bulls of the shared catalogue; ISO 11784 IDs, a herd, a name), and times in one run
on a scratch platform:

1. ``import_register`` (upload checks, read, parse, judge every rule of docs/onboarding.md
   against the stored pedigree, write through the application login: row security, pedigree
   and tier triggers, audit; one transaction), in a child process whose peak RSS is reported;
2. the same file imported again (judged, nothing written: the idempotent re-import);
3. a ``COPY`` of the same CSV rows into a scratch table of text columns as the administrative
   login: the cost of only moving the bytes into PostgreSQL.

    flock /tmp/reprotech-bench.lock env PYTHONPATH=. .venv/bin/python \\
        benchmarks/onboarding/bench_register.py --animals 10000
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.herd.register_import import import_register

HEADER = ("official_id", "name", "sex", "birth_date", "breed", "sire", "dam", "herd")
BULLS = [f"HOLDEUM{n:012d}" for n in range(1, 21)]
CODE = "bench-herd"


def register_rows(n: int) -> list[tuple[str, ...]]:
    """Founders (a quarter), then each later cow a daughter of an earlier one, born 4 years
    after her dam; rows shuffled so parents do not always come first."""
    founders = max(1, n // 4)
    born: list[date] = []
    rows = []
    for i in range(n):
        oid = f"276{i:012d}"
        if i < founders:
            day = date(2008, 1 + i % 12, 1 + i % 28)
            dam = ""
        else:
            d = (i - founders) % i
            day = date(born[d].year + 4, born[d].month, born[d].day)
            dam = f"276{d:012d}"
        born.append(day)
        rows.append((oid, f"Cow {i}", "F", day.isoformat(), "Holstein",
                     BULLS[i % len(BULLS)] if dam else "", dam, "main"))
    return rows[::2] + rows[1::2]


def run_import(url: str, path: Path, out: multiprocessing.Queue) -> None:
    db = Database(url)
    times = []
    reports = []
    for _ in range(2):  # the import, then the same file again
        t = time.perf_counter()
        with db.session(db.identity("system"), reason="benchmark register import") as s:
            reports.append(import_register(s, accounts.customer_by_code(s, CODE), path))
        times.append(time.perf_counter() - t)
    db.dispose()
    out.put((times, [r.summary() for r in reports], [len(r.problems) for r in reports],
             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def copy_rows(conninfo: str, path: Path) -> float:
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE TEMP TABLE register_scratch ("
                     + ", ".join(f"{c} text" for c in HEADER) + ")")
        data = path.read_bytes()
        t = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(
                "COPY register_scratch FROM STDIN (FORMAT csv, HEADER true)") as cp:
            cp.write(data)
        return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--animals", type=int, default=10_000)
    args = parser.parse_args()
    with scratch_platform() as settings, tempfile.TemporaryDirectory() as tmp:
        db = Database(app_url(settings))
        with db.session(db.identity("system")) as s:
            ref = accounts.create_customer(s, code="bench-sires", name="Sires", tier="reference",
                                           kind="reference")
            register_animals(s, ref, [AnimalRecord(b, "Holstein", "M", date(2000, 1, 1))
                                      for b in BULLS])
            c = accounts.create_customer(s, code=CODE, name="Bench herd", tier="enterprise")
            accounts.create_herd(s, customer=c, code="main", name="Main")
        db.dispose()
        path = Path(tmp) / "register.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(register_rows(args.animals))
        print(f"CSV: {args.animals} animals, {path.stat().st_size / 1e6:.2f} MB")
        ctx = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue = ctx.Queue()
        child = ctx.Process(target=run_import, args=(app_url(settings), path, queue))
        child.start()
        (first, again), summaries, problems, rss = queue.get()
        child.join()
        assert problems == [0, 0], summaries
        copy_s = copy_rows(admin_url(settings).replace("+psycopg", ""), path)
    n = args.animals
    print(f"import_register: {first:.2f} s, {n / first:,.0f} rows/s ({summaries[0]}); "
          f"child peak RSS {rss:.0f} MiB")
    print(f"re-import (nothing to write): {again:.2f} s, {n / again:,.0f} rows/s ({summaries[1]})")
    print(f"COPY into a scratch table: {copy_s:.3f} s, {n / copy_s:,.0f} rows/s; "
          f"import / COPY = {first / copy_s:.0f}x")


if __name__ == "__main__":
    main()
