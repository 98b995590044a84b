"""Cost of tenant isolation and the audit trail, measured against a bare table in the same run.

Registers N animals (one customer, pedigree with sires and dams) through the platform path
(row security + pedigree rule trigger + tier-limit trigger + audit trigger) and the same rows
into an unprotected copy of the table with COPY (the floor); then reads all of a customer's
animals as an admin (all tenants), a customer user (own tenant), a vet (assigned tenants) and
the superuser (no row security).

    .venv/bin/python benchmarks/foundation/bench_rls.py --animals 10000
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta

import psycopg
from sqlalchemy import text

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database


def herd(prefix: str, n: int) -> list[AnimalRecord]:
    cows = [AnimalRecord(f"{prefix}F{i}", "Holstein", "F", date(2010, 1, 1) + timedelta(days=i % 300))
            for i in range(n // 10)]
    bulls = [AnimalRecord(f"{prefix}M{i}", "Holstein", "M", date(2010, 1, 1)) for i in range(20)]
    calves = [
        AnimalRecord(f"{prefix}C{i}", "Holstein", "F", date(2014, 1, 1) + timedelta(days=i % 900),
                     sire=bulls[i % 20].official_id, dam=cows[i % len(cows)].official_id)
        for i in range(n - len(cows) - len(bulls))
    ]
    return cows + bulls + calves


def timed(fn, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--animals", type=int, default=10_000)
    args = parser.parse_args()
    with scratch_platform() as settings:
        db = Database(app_url(settings))
        system = db.identity("system")
        with db.session(system) as s:
            s.execute(text("UPDATE core.subscription_tiers SET max_animals = 1000000"))
            a = accounts.create_customer(s, code="bench-a", name="A", tier="enterprise")
            b = accounts.create_customer(s, code="bench-b", name="B", tier="enterprise")
            accounts.create_user(s, accounts.NewUser("bench-user", "u", "customer_user", "bench-a"))
            accounts.create_user(s, accounts.NewUser("bench-vet", "v", "veterinarian"))
            accounts.assign(s, "bench-vet", "bench-a")
            register_animals(s, b, herd("B", args.animals))
        records = herd("A", args.animals)
        t = time.perf_counter()
        with db.session(system) as s:
            register_animals(s, accounts.customer_by_code(s, "bench-a"), records)
        platform_insert = time.perf_counter() - t

        with psycopg.connect(admin_url(settings).replace("+psycopg", "")) as admin:
            admin.execute("CREATE TABLE public.bare (LIKE core.animals INCLUDING DEFAULTS)")
            t = time.perf_counter()
            with admin.cursor().copy(
                "COPY public.bare (customer_id, official_id, breed, sex, birth_date) FROM STDIN"
            ) as copy:
                for r in records:
                    copy.write_row((a.id, r.official_id, r.breed, r.sex, r.birth_date))
            admin.commit()
            bare_insert = time.perf_counter() - t
            audit_rows = admin.execute("SELECT count(*) FROM audit.log WHERE table_name = "
                                       "'core.animals'").fetchone()[0]
            superuser_read = timed(lambda: admin.execute(
                "SELECT * FROM core.animals WHERE customer_id = %s", (a.id,)).fetchall())

        def read_as(name: str) -> float:
            ident = db.identity(name)

            def run() -> None:
                with db.session(ident) as s:
                    rows = s.execute(text("SELECT * FROM core.animals WHERE customer_id = :c"),
                                     {"c": a.id}).all()
                    assert len(rows) == args.animals, (name, len(rows))
            return timed(run)

        reads = {name: read_as(name) for name in ("system", "bench-user", "bench-vet")}
        db.dispose()
        n = args.animals
        print(f"animals per customer: {n}; audit rows written: {audit_rows}")
        print(f"register (RLS + rules + tier + audit): {platform_insert:.2f} s "
              f"({n / platform_insert:,.0f}/s); bare COPY: {bare_insert:.3f} s; "
              f"ratio {platform_insert / bare_insert:.1f}x")
        print(f"read {n} animals: superuser (no RLS) {superuser_read * 1000:.1f} ms")
        for name, secs in reads.items():
            print(f"read {n} animals as {name}: {secs * 1000:.1f} ms "
                  f"({secs / superuser_read:.2f}x the superuser read)")


if __name__ == "__main__":
    main()
