"""The demo's farms arrive as a new customer's would: files under var/onboarding, imported by
the register, records and sample-sheet imports (audited with their reasons), and a second load
re-imports them with nothing to write."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest
from sqlalchemy import text

from reprotech_core import demo
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.session import Database
from reprotech_core.demo_onboarding import FarmFiles, OnboardingRefused, farm_files, onboard
from reprotech_core.herd.register import id_problem
from tests import support
from tests.conftest import psycopg_url

WATCHED = ("animals", "herds", "phenotypes", "samples", "customers")


@pytest.fixture(scope="module")
def demo_db(demo_platform):
    db = Database(app_url(demo_platform))
    yield db, db.identity("system")
    db.dispose()


def test_each_farm_has_its_files_and_one_register_is_a_workbook(demo_platform):
    first = farm_files(demo_platform, "farm01", excel=False)
    second = farm_files(demo_platform, "farm02", excel=True)
    for files in (first, second):
        assert files.register.exists() and files.records.exists() and files.samples.exists()
    assert first.register.name == "register.csv" and second.register.name == "register.xlsx"
    with first.register.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["Official ID", "Sex", "Date of birth", "Breed", "Sire", "Dam", "Herd"]
    assert all(id_problem(r["Official ID"]) is None for r in rows)
    assert pd.read_excel(second.register).shape[0] > 0


def test_the_farms_data_went_through_the_imports(demo_platform, demo_db):
    db, system = demo_db
    with db.session(system) as s:
        reasons = dict(s.execute(text(
            "SELECT reason, count(*) FROM audit.log WHERE action = 'INSERT' AND table_name IN "
            "('core.animals', 'core.phenotypes', 'core.samples') GROUP BY reason")).all())
        # The farms' genotyped animals came from their registers, AI sires from the catalogue.
        farm_animals = s.execute(text(
            "SELECT a.official_id, sc.code FROM core.animals a "
            "JOIN core.customers c ON c.id = a.customer_id "
            "LEFT JOIN core.animals s ON s.id = a.sire_id "
            "LEFT JOIN core.customers sc ON sc.id = s.customer_id "
            "WHERE c.code = 'farm01' AND a.official_id LIKE 'HOLCAN%'")).all()
        stored = {(oid, trait): value for oid, trait, value in s.execute(text(
            "SELECT a.official_id, p.trait, p.value FROM core.phenotypes p "
            "JOIN core.animals a ON a.id = p.animal_id "
            "JOIN core.customers c ON c.id = p.customer_id WHERE c.code = 'farm01'"))}
    assert reasons.get("herd register imported from register.csv", 0) > 0
    assert reasons.get("herd register imported from register.xlsx", 0) > 0
    assert reasons.get("performance records imported from records.csv", 0) > 0
    assert reasons.get("samples received from samples.csv", 0) > 0
    register = pd.read_csv(farm_files(demo_platform, "farm01", excel=False).register)
    assert {oid for oid, _ in farm_animals} == set(register["Official ID"])
    assert {code for _, code in farm_animals} >= {"ai-sires"}  # AI sires resolved
    records = pd.read_csv(farm_files(demo_platform, "farm01", excel=False).records)
    assert set(records["trait"]) == {"milk_production", "fertility", "disease_resistance",
                                     "longevity"}
    assert {(r.animal, r.trait): r.value for r in records.itertuples()} == stored


def test_a_second_load_imports_the_same_files_with_nothing_to_write(demo_platform, demo_db):
    db, system = demo_db
    conninfo = psycopg_url(admin_url(demo_platform))
    with support.unchanged(conninfo, WATCHED):
        summary = demo.load(db, system, demo_platform)
    assert not summary.created and not summary.lab_files
    assert len(summary.imports) == 3 * demo_platform.demo_customers
    assert all(line.endswith("nothing to write") for line in summary.imports), summary.imports
    assert any(line.startswith("farm02: register.xlsx:") for line in summary.imports)


def test_a_refused_demo_file_raises_and_writes_nothing(demo_platform, demo_db, tmp_path):
    """A demo file that breaks a rule is a bug in the demo: raised with the rule's message,
    nothing of the farm's changes."""
    db, system = demo_db
    good = farm_files(demo_platform, "farm01", excel=False)
    register = tmp_path / "register.csv"
    shutil.copy(good.register, register)
    with register.open("a") as fh:
        fh.write("HOLCANF000999999999,F,2020-01-01,Holstein,,HOLCANF000999999999,\n")
    conninfo = psycopg_url(admin_url(demo_platform))
    with support.unchanged(conninfo, WATCHED), pytest.raises(OnboardingRefused) as refused:
        onboard(db, system, "farm01", FarmFiles(register, good.records, good.samples),
                max_bytes=2**20)
    assert "register.cycle" in str(refused.value) or "register.parent_sex" in str(refused.value)
