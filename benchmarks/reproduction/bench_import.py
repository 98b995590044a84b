"""Importing breeding events: the bulk import next to a bare COPY of the same rows.

Registers three customers with the same herd (N cows, one own bull, plus reference bulls),
writes a CSV of E inseminations for the first (each cow served every 21 days), then times in
the same run:

1. ``import_events`` (read, parse, judge every row with the herd book, write through row
   security with the rule, stock and audit triggers; one transaction), in a child process
   whose peak RSS is reported;
2. a ``COPY`` of the same rows (ids resolved beforehand) into ``core.inseminations`` as the
   administrative login, triggers firing (the same database rules and audit, no Python);
3. the same ``COPY`` with triggers off (``session_replication_role = replica``): the table's
   raw write floor.

    flock /tmp/reprotech-bench.lock env PYTHONPATH=. .venv/bin/python \\
        benchmarks/reproduction/bench_import.py --events 100000 --cows 20000
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from benchmarks.copy_floor import timed_copy
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.reproduction import import_events

START = date(2024, 1, 1)
BULLS = [f"REF-BULL-{i:02d}" for i in range(10)]


def setup(db: Database, codes: list[str], cows: int) -> None:
    system = db.identity("system")
    with db.session(system) as s:
        ref = accounts.create_customer(s, code="bench-ref", name="Sires", tier="reference",
                                       kind="reference")
        register_animals(s, ref, [AnimalRecord(b, "Holstein", "M", date(2015, 1, 1))
                                  for b in BULLS])
    for code in codes:
        with db.session(system) as s:
            c = accounts.create_customer(s, code=code, name=code, tier="enterprise")
            accounts.create_herd(s, customer=c, code=f"{code}-h", name="Main")
            register_animals(s, c, [AnimalRecord(f"{code}-C{n:06d}", "Holstein", "F",
                                                 date(2021, 1, 1), herd_code=f"{code}-h")
                                    for n in range(cows)])


def events(code: str, n_events: int, cows: int) -> list[tuple[str, str, date, str, str]]:
    rows = []
    for i in range(n_events):
        cow, k = i % cows, i // cows
        rows.append((f"{code}-C{cow:06d}", BULLS[(cow + k) % len(BULLS)],
                     START + timedelta(days=21 * k + cow % 7), "heat" if i % 3 else "timed",
                     f"T{cow % 5}"))
    return rows


def write_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["event", "animal", "date", "bull", "service_type", "technician"])
        for cow, bull, day, kind, tech in rows:
            w.writerow(["insemination", cow, day.isoformat(), bull, kind, tech])


def run_import(url: str, code: str, path: Path, out: multiprocessing.Queue) -> None:
    db = Database(url)
    t = time.perf_counter()
    with db.session(db.identity("system"), reason="benchmark import") as s:
        report = import_events(s, accounts.customer_by_code(s, code), path)
    seconds = time.perf_counter() - t
    db.dispose()
    out.put((seconds, report.imported, len(report.errors),
             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def copy_rows(conninfo: str, code: str, rows: list[tuple], *, triggers: bool) -> float:
    with psycopg.connect(conninfo) as conn:
        ids = dict(conn.execute("SELECT official_id, id FROM core.animals a WHERE customer_id = "
                                "(SELECT id FROM core.customers WHERE code = %s) OR customer_id = "
                                "(SELECT id FROM core.customers WHERE code = 'bench-ref')",
                                (code,)).fetchall())
        cid = conn.execute("SELECT id FROM core.customers WHERE code = %s", (code,)).fetchone()[0]
        buf = io.StringIO()
        for cow, bull, day, kind, tech in rows:
            buf.write(f"{cid}\t{ids[cow]}\t{ids[bull]}\t{day}\t{kind}\t{tech}\n")
        data = buf.getvalue()
        return timed_copy(conn, "COPY core.inseminations (customer_id, cow_id, bull_id, "
                          "service_date, service_type, technician) FROM STDIN", data,
                          triggers=triggers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cows", type=int, default=20_000)
    args = parser.parse_args()
    codes = ["bench-import", "bench-copy", "bench-bare"]
    with scratch_platform() as settings, tempfile.TemporaryDirectory() as tmp:
        db = Database(app_url(settings))
        t = time.perf_counter()
        setup(db, codes, args.cows)
        db.dispose()
        print(f"set-up: 3 x {args.cows} cows registered in {time.perf_counter() - t:.1f} s")
        path = Path(tmp) / "events.csv"
        write_csv(path, events(codes[0], args.events, args.cows))
        print(f"CSV: {args.events} events, {path.stat().st_size / 1e6:.1f} MB")
        queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(
            target=run_import, args=(app_url(settings), codes[0], path, queue))
        child.start()
        seconds, imported, errors, rss = queue.get()
        child.join()
        assert errors == 0 and imported == {"insemination": args.events}, (imported, errors)
        admin = admin_url(settings).replace("+psycopg", "")
        copy_s = copy_rows(admin, codes[1], events(codes[1], args.events, args.cows),
                           triggers=True)
        bare_s = copy_rows(admin, codes[2], events(codes[2], args.events, args.cows),
                           triggers=False)
    rate = args.events / seconds
    print(f"import_events: {seconds:.1f} s, {rate:,.0f} rows/s, child peak RSS {rss:.0f} MiB")
    print(f"COPY, triggers on (rules + audit): {copy_s:.1f} s, {args.events / copy_s:,.0f} rows/s;"
          f" import / COPY = {seconds / copy_s:.1f}x")
    print(f"COPY, triggers off (floor): {bare_s:.2f} s, {args.events / bare_s:,.0f} rows/s; "
          f"import / floor = {seconds / bare_s:.1f}x")


if __name__ == "__main__":
    main()
