"""A customer's data export (portability) and erasure, on a platform of their own with the demo
and its genotypes ingested."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import text

from reprotech_core.db.migrate import app_url
from reprotech_core.db.session import Database
from reprotech_core.errors import PermissionDenied, RuleViolation
from reprotech_core.ops.portability import customer_tables, erase_customer, export_customer
from reprotech_core.store.inbox import ingest_inbox


@pytest.fixture(scope="module")
def platform(demo_platform):
    db = Database(app_url(demo_platform))
    system = db.identity("system")
    result = ingest_inbox(db, system, demo_platform.var_dir / "inbox", manifest="DemoSNP.csv")
    assert result.ingested and not result.refused
    yield demo_platform, db, system
    db.dispose()


def count(db, system, sql, **params):
    with db.session(system) as s:
        return s.scalar(text(sql), params)


def test_tables_are_ordered_children_first(platform):
    _, db, system = platform
    with db.session(system) as s:
        order = customer_tables(s)
    assert order.index("core.genotypes") < order.index("core.samples") < order.index(
        "core.animals") < order.index("core.herds")


def test_export_holds_records_genotypes_and_audit_with_checksums(platform, tmp_path):
    settings, db, system = platform
    animals = count(db, system, "SELECT count(*) FROM core.animals a JOIN core.customers c "
                    "ON c.id = a.customer_id WHERE c.code = 'farm01'")
    genotyped = count(db, system, "SELECT count(*) FROM core.genotypes g JOIN core.customers c "
                      "ON c.id = g.customer_id WHERE c.code = 'farm01'")
    assert animals and genotyped
    export = export_customer(db, system, settings, "farm01", tmp_path / "farm01.zip")
    assert (export.path.stat().st_mode & 0o077) == 0
    with zipfile.ZipFile(export.path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("farm01/manifest.json"))
        for name, digest in manifest["sha256"].items():
            assert hashlib.sha256(archive.read(f"farm01/{name}")).hexdigest() == digest
        rows = list(csv.DictReader(io.StringIO(archive.read(
            "farm01/records/animals.csv").decode())))
        users = archive.read("farm01/records/users.csv").decode()
        fam = archive.read(next(n for n in names if n.endswith(".fam"))).decode().splitlines()
    assert len(rows) == animals == manifest["rows"]["core.animals"]
    assert len(fam) == genotyped
    assert "password_hash" not in users and "totp_secret" not in users
    assert manifest["rows"]["audit.log"] > 0
    others = count(db, system, "SELECT string_agg(code, ',') FROM core.customers "
                   "WHERE code <> 'farm01'")
    assert not any(f"/{o}/" in n for o in others.split(",") for n in names)
    audited = count(db, system, "SELECT count(*) FROM audit.log WHERE table_name = "
                    "'core.data_requests' AND new_values->>'kind' = 'export'")
    assert audited == 1


def test_a_customer_user_cannot_erase_and_the_catalogue_cannot_be_erased(platform):
    settings, db, system = platform
    farm_user = count(db, system, "SELECT u.username FROM core.users u JOIN core.customers c "
                      "ON c.id = u.customer_id WHERE c.code = 'farm02' LIMIT 1")
    with pytest.raises(PermissionDenied, match="customers:manage"):
        erase_customer(db, db.identity(farm_user), settings, "farm02", reason="test")
    assert count(db, system, "SELECT count(*) FROM core.animals a JOIN core.customers c "
                 "ON c.id = a.customer_id WHERE c.code = 'farm02'") > 0
    reference = count(db, system, "SELECT code FROM core.customers WHERE kind = 'reference'")
    with pytest.raises(RuleViolation, match="reference catalogue"):
        erase_customer(db, system, settings, reference, reason="test")


def test_erasure_deletes_records_anonymises_users_and_keeps_the_audit_trail(platform):
    settings, db, system = platform
    cid = count(db, system, "SELECT id FROM core.customers WHERE code = 'farm01'")
    audit_before = count(db, system, "SELECT count(*) FROM audit.log WHERE customer_id = :c", c=cid)
    other_before = count(db, system, "SELECT count(*) FROM core.animals WHERE customer_id <> :c",
                         c=cid)
    invoices_before = count(db, system, "SELECT count(*) FROM core.invoices WHERE "
                            "customer_id = :c", c=cid)
    (settings.var_dir / "reports" / "farm01").mkdir(parents=True, exist_ok=True)
    erasure = erase_customer(db, system, settings, "farm01", reason="contract ended, request 17")
    assert erasure.deleted["core.animals"] > 0 and erasure.deleted["core.genotypes"] > 0
    assert erasure.users_anonymised >= 1
    with db.session(system) as s:
        for table in customer_tables(s):
            if table not in ("core.customers", "core.users", "core.data_requests",
                             "core.invoices", "core.invoice_lines", "core.service_orders"):
                left = s.scalar(text(f"SELECT count(*) FROM {table} WHERE customer_id = :c"),
                                {"c": cid})
                assert left == 0, table
        users = s.execute(text("SELECT username, display_name, email, password_hash, active "
                               "FROM core.users WHERE customer_id = :c"), {"c": cid}).all()
        customer = s.execute(text("SELECT code, name, active FROM core.customers WHERE id = :c"),
                             {"c": cid}).one()
    assert all(u.username.startswith("erased-") and u.email is None and u.password_hash is None
               and not u.active for u in users)
    assert customer == (f"erased-{cid}", f"Erased customer {cid}", False)
    # Accounting records stay for their retention period, no longer pointing at an animal.
    assert count(db, system, "SELECT count(*) FROM core.invoices WHERE customer_id = :c",
                 c=cid) == invoices_before > 0
    assert count(db, system, "SELECT count(*) FROM core.service_orders WHERE customer_id = :c "
                 "AND animal_id IS NOT NULL", c=cid) == 0
    assert count(db, system, "SELECT count(*) FROM core.animals WHERE customer_id <> :c",
                 c=cid) == other_before
    audit_after = count(db, system, "SELECT count(*) FROM audit.log WHERE customer_id = :c", c=cid)
    assert audit_after > audit_before  # every deletion audited; nothing removed
    reason = count(db, system, "SELECT reason FROM audit.log WHERE table_name = "
                   "'core.data_requests' ORDER BY id DESC LIMIT 1")
    assert "contract ended, request 17" in reason
    assert not (settings.var_dir / "reports" / "farm01").exists()


def test_a_customer_exports_their_own_data_and_nothing_else(platform, tmp_path):
    from reprotech_core.errors import NotFound

    settings, db, system = platform
    admin = count(db, system, "SELECT u.username FROM core.users u JOIN core.customers c ON "
                  "c.id = u.customer_id WHERE c.code = 'farm02' AND u.role = 'customer_admin'")
    me = db.identity(admin)
    export = export_customer(db, me, settings, "farm02", tmp_path / "mine.zip")
    assert export.rows["core.animals"] > 0
    with zipfile.ZipFile(export.path) as archive:
        assert all(n.startswith("farm02/") for n in archive.namelist())
    from reprotech_core import accounts

    with db.session(system) as s:
        accounts.create_customer(s, code="farm-other", name="Another farm")
    with pytest.raises(NotFound):  # row security hides it: "no customer", not "forbidden"
        export_customer(db, me, settings, "farm-other", tmp_path / "theirs.zip")
    assert not (tmp_path / "theirs.zip").exists()
