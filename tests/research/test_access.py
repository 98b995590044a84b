"""Research access on the real database: the researcher's login sees pseudonyms only."""

import re

import numpy as np
import pytest

from reprotech_core.errors import NotFound, PermissionDenied, UnsafeDatabaseLogin
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.research import access
from reprotech_core.research.cohort import EmptyCohort, export_plink
from reprotech_core.research.diversity import diversity
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd
from reprotech_core.store.snapshots import write_snapshots

pytestmark = pytest.mark.db

PANEL = "ResAccessChip"


@pytest.fixture(scope="module")
def placed(db, system, tmp_path_factory):
    herd = simulate_herd(n_animals=40, n_snps=120, seed=21, n_customers=2, n_herds=3)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "ra-farm0", "CUST01": "ra-farm1"},
                   reference_code="ra-ref", barcode_prefix="RA", animal_prefix="RACAN")
        ingest_genotypes(s, as_lab_file(herd.genotypes, np.arange(40), barcode_prefix="RA"),
                         manifest=PanelManifest(chip=PANEL, snps=herd.genotypes.snps),
                         batch_name="RA-1", source_sha256="ra-1", source_file="simulated")
    folder = tmp_path_factory.mktemp("store")
    write_snapshots(db, system, folder)
    return herd, folder


@pytest.fixture
def researcher(world, placed):
    conn = access.connect(world.logins["w-res"])
    yield conn
    conn.close()


def test_cohort_from_views_is_pseudonymised(researcher, placed):
    herd, _ = placed
    cohort = access.load_cohort(researcher, panel=PANEL)
    assert cohort.n_animals == 40 and cohort.n_snps == 120
    a = cohort.animals
    assert a["animal"].str.fullmatch(r"A[0-9a-f]{12}").all()
    assert a["herd"].dropna().str.fullmatch(r"H[0-9a-f]{12}").all()  # AI sires: no herd
    text = a.to_csv()
    assert "RACAN" not in text and "ra-farm" not in text and "Farm" not in text
    assert cohort.snapshot.startswith(f"research-db:{PANEL}:")
    again = access.load_cohort(researcher, panel=PANEL)
    assert list(again.animals["animal"]) == list(a["animal"])  # stable pseudonyms
    assert again.digest() == cohort.digest()
    assert a["sire"].notna().any()  # pedigree links, as pseudonyms
    assert diversity(cohort, by="customer").table.shape[0] == 3


def test_store_cohort_equals_views(researcher, placed):
    _, folder = placed
    from_db = access.load_cohort(researcher, panel=PANEL)
    from_store = access.load_cohort_from_store(folder, panel=PANEL)
    assert list(from_store.animals["animal"]) == list(from_db.animals["animal"])
    assert np.array_equal(from_store.packed, from_db.packed)
    assert from_store.snapshot.startswith(f"store:{PANEL}:sha256=")


def test_identities_refused_without_leak(researcher, placed):
    for sql in ("SELECT official_id FROM core.animals",
                "SELECT name FROM core.customers", "SELECT key FROM core.pseudonym_key"):
        with pytest.raises(PermissionDenied) as err:
            access.query(researcher, sql)
        msg = str(err.value)
        assert "pseudonymised" in msg and "RACAN" not in msg and "ra-farm" not in msg
        assert re.search(r"may not read table \w+", msg)


def test_export_carries_pseudonyms(researcher, placed, tmp_path):
    cohort = access.load_cohort(researcher, panel=PANEL)
    export_plink(cohort, tmp_path / "x")
    fam = (tmp_path / "x.fam").read_text()
    assert "RACAN" not in fam and cohort.animals["animal"].iloc[0] in fam


def test_filters_and_empty_cohort(researcher, placed):
    cohort = access.load_cohort(researcher, panel=PANEL)
    one_herd = cohort.animals["herd"].iloc[0]
    sub = access.load_cohort(researcher, panel=PANEL, herds=[one_herd])
    assert set(sub.animals["herd"]) == {one_herd}
    with pytest.raises(EmptyCohort, match="cohort has no genotypes: 0 animals match"):
        access.load_cohort(researcher, panel=PANEL, birth_years=[1900])
    with pytest.raises(NotFound, match="no genotypes on panel 'NoSuchChip'"):
        access.load_cohort(researcher, panel="NoSuchChip")


def test_admin_login_refused(admin_conninfo):
    with pytest.raises(UnsafeDatabaseLogin, match="bypasses row security"):
        access.connect(admin_conninfo)


def test_staff_without_research_permission_sees_no_cohort(world, placed):
    conn = access.connect(world.logins["w-vet"])
    try:
        with pytest.raises(EmptyCohort, match="no genotypes are visible"):
            access.load_cohort(conn)
    finally:
        conn.close()


def test_phenotypes_under_the_research_pseudonyms(researcher, world, db, system, notebook):
    from datetime import date

    from data_models.evaluation import Phenotype

    with db.session(system) as s:
        s.add(Phenotype(customer_id=world.farm_a, animal_id=world.animals["WA-COW"],
                        trait="milk_production", value=9876.5, recorded_on=date(2023, 5, 1)))
    records = access.phenotypes(researcher, trait="milk_production")
    mine = records[records["value"] == 9876.5]
    assert len(mine) == 1 and mine.iloc[0]["record_year"] == 2023
    assert mine.iloc[0]["animal"] in set(access.pedigree(researcher)["animal"])  # joins
    assert "WA-COW" not in records.to_csv()
    vet = notebook("w-vet")  # no research:read: the view is empty for them
    assert vet.execute("SELECT count(*) FROM research.phenotypes").fetchone()[0] == 0
