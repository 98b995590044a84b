"""The "Lab files" page without a browser: samples registered from a sheet and typed rows by a
technician, a FinalReport export ingested on an SNP_Map.txt by lab operations, the same
all-or-nothing and idempotency rules as ``reprotech lab``, and a refused upload leaving the
database exactly as it was."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date

import numpy as np
import pytest
from sqlalchemy import text

from dashboards.pages import PageContext
from dashboards.staff import lab_files as page
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.errors import PermissionDenied, RuleViolation
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.packing import pack, unpack
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.staffviews import lab_files as views
from tests import support
from tests.dashboards.staff_support import StaffWorld, staff_world_for
from tests.dashboards.test_staff_pages import text_of
from tests.genomics.test_illumina_map import chip, write_snp_map

pytestmark = pytest.mark.db

COWS = [f"LFCOW{i:03d}" for i in range(6)]
CHIP = "LabFilesChip40"
WATCHED = ("samples", "genotypes", "genotyping_batches", "batch_stage_events", "snp_panels",
           "panel_snps")


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    world = staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))
    register_cows(db, system, COWS)
    return world


def register_cows(db, system, cows: list[str]) -> None:
    """New cows of customer st-one (the technician's): animals with no sample yet."""
    with db.session(system) as s:
        herd = s.scalar(text("SELECT h.code FROM core.herds h JOIN core.customers c "
                             "ON c.id = h.customer_id WHERE c.code = 'st-one' LIMIT 1"))
        register_animals(s, accounts.customer_by_code(s, "st-one"), [
            AnimalRecord(cow, "Holstein", "F", date(2021, 3, 1 + i), herd_code=herd)
            for i, cow in enumerate(cows)])


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A FinalReport of barcodes LF-0..LF-3 on a 40-SNP chip, and its SNP_Map.txt."""
    folder = tmp_path_factory.mktemp("lab-files")
    snps, bot = chip(40, seed=9)
    rng = np.random.default_rng(2)
    geno = GenotypeSet(pack(rng.integers(-1, 3, size=(4, 40)).astype(np.int8)),
                       np.array([f"LF-{i}" for i in range(4)]), snps)
    report = write_finalreport(geno, folder / "FinalReport.txt", chip=CHIP)
    write_snp_map(snps, bot, folder / "SNP_Map.txt")
    return geno, report.read_bytes(), (folder / "SNP_Map.txt").read_bytes()


def plain(markdown: str) -> str:
    """A status text without Markdown's escapes."""
    return markdown.replace("\\", "")


def ctx_of(db, sw, name):
    return PageContext(database=db, identity=sw.users[name], settings=sw.settings)


def unchanged(conninfo: str) -> AbstractContextManager[None]:
    """Assert the block changes none of the watched tables nor the audit log."""
    return support.unchanged(conninfo, WATCHED)


def test_technician_registers_from_a_sheet_and_typed_rows(db, sw, admin_conninfo):
    tech = page.LabFiles(ctx_of(db, sw, "st-tech"))
    assert list(tech.farm.options.values()) == ["st-one"]  # assigned customers only
    tech.farm.value = "st-one"
    tech.sheet.filename, tech.sheet.value = "scanner.csv", (
        f"barcode,animal,tissue\nLF-0,{COWS[0]},hair\nLF-1,{COWS[1]},\n").encode()
    tech.register_sheet()
    assert tech.samples_result.alert_type == "success", tech.status
    assert "Registered 2 sample(s) from scanner.csv" in plain(tech.status)
    with unchanged(admin_conninfo):  # the lab sends the same sheet again: nothing changes
        tech.register_sheet()
    assert tech.samples_result.alert_type == "success", tech.status
    assert "Registered 0 sample(s) from scanner.csv (2 registered before)" in plain(tech.status)
    tech.typed.value = f"LF-2\t{COWS[2]}\nLF-3, {COWS[3]}, blood\n\n"
    tech.register_typed()
    assert "Registered 2 sample(s)" in tech.status, tech.status
    assert "Storing genotypes is for lab operations" in text_of(pn_tree(tech))
    with pytest.raises(PermissionDenied):
        views.ingest_uploads(db, sw.users["st-tech"], [views.Upload("r.txt", b"x")],
                             batch="LF-TECH", panel=CHIP)


def pn_tree(viewer):
    import panel as pn

    return pn.panel(viewer.__panel__())


@pytest.mark.parametrize(("sheet", "rule", "where"), [
    ("barcode,animal\nLF-9,NO-SUCH-COW\n", "sample.animal_unknown", "NO-SUCH-COW"),
    ("barcode,animal\nLF-0,LFCOW004\n", "sample.barcode_taken", "LF-0"),
    (f"barcode,animal\nLF-8,{COWS[4]}\nLF-8,{COWS[5]}\n", "samples.duplicate",
     "bad.csv, line 3, column barcode"),
    ("barcode,cow\nLF-8,x\n", "samples.columns", "bad.csv, line 1"),
    ("barcode,animal\nLF-8,B\xe9a\n", "", "bad.csv, line 2"),
])
def test_a_refused_sheet_registers_nothing(db, sw, admin_conninfo, sheet, rule, where):
    tech = page.LabFiles(ctx_of(db, sw, "st-tech"))
    tech.farm.value = "st-one"
    tech.sheet.filename = "bad.csv"
    tech.sheet.value = sheet.encode("latin-1")
    with unchanged(admin_conninfo):
        tech.register_sheet()
    assert tech.samples_result.alert_type == "danger"
    assert "Nothing registered" in tech.status and where in plain(tech.status)
    assert rule in plain(tech.status)
    assert "reprotech-lab-" not in tech.status  # never the private folder's name


def test_lab_ops_ingests_on_snp_map_once(db, sw, export, admin_conninfo):
    geno, report, snp_map = export
    lab = page.LabFiles(ctx_of(db, sw, "st-lab"))
    lab.reports.filename, lab.reports.value = ["FinalReport.txt"], [report]
    lab.map_file.filename, lab.map_file.value = "SNP_Map.txt", snp_map
    lab.batch.value = "LF-B1"
    lab.ingest()
    first = lab.results.value.iloc[0]
    assert (first["outcome"], first["samples"], first["snps"]) == ("stored", 4, 40), first
    assert 0.5 < first["mean_call_rate"] <= 1
    with db.session(db.identity("system")) as s:
        stored = s.execute(text(
            "SELECT s.barcode, g.calls, p.name FROM core.genotypes g JOIN core.samples s "
            "ON s.id = g.sample_id JOIN core.snp_panels p ON p.id = g.panel_id "
            "WHERE s.barcode LIKE 'LF-%' ORDER BY s.barcode")).all()
    assert [r.barcode for r in stored] == ["LF-0", "LF-1", "LF-2", "LF-3"]
    assert {r.name for r in stored} == {CHIP}  # the panel is named by the FinalReport header
    for k, row in enumerate(stored):
        np.testing.assert_array_equal(unpack(np.frombuffer(row.calls, np.uint8), 40),
                                      unpack(geno.packed[k], 40))
    with unchanged(admin_conninfo):  # the same export again: nothing changes
        lab.ingest()
    assert lab.results.value.iloc[0]["outcome"] == "ingested before; nothing changed"
    assert lab.results.value.iloc[0]["samples"] == 4


def test_refused_exports_store_nothing(db, sw, export, admin_conninfo):
    geno, report, snp_map = export
    lab = page.LabFiles(ctx_of(db, sw, "st-lab"))
    bad_map = snp_map.replace(b"\tTOP\tTOP\t", b"\tPLUS\tTOP\t", 1)
    unknown = report.replace(b"\tLF-", b"\tLFX-")  # none registered
    cases = [
        ([("FinalReport.txt", unknown)], ("SNP_Map.txt", snp_map), "LF-B2",
         "ingest.unknown_samples"),
        ([("FinalReport.txt", unknown)], ("SNP_Map.txt", bad_map), "LF-B3", "snpmap.strand"),
        ([("FinalReport.txt", report[:-200])], ("SNP_Map.txt", snp_map), "LF-B4", "truncated"),
        ([("FinalReport.txt", b"hello")], ("SNP_Map.txt", snp_map), "LF-B5",
         "not a FinalReport"),
        ([], ("SNP_Map.txt", snp_map), "LF-B6", "ingest.no_file"),
        ([("FinalReport.txt", unknown)], None, "LF-B7", "ingest.map"),
        ([("FinalReport.txt", unknown)], ("SNP_Map.txt", snp_map), "", "ingest.batch"),
    ]
    for reports, map_file, batch, says in cases:
        lab.reports.filename = [n for n, _ in reports]
        lab.reports.value = [c for _, c in reports]
        lab.map_file.filename, lab.map_file.value = map_file or (None, None)
        lab.batch.value = batch
        with unchanged(admin_conninfo):
            lab.ingest()
        row = lab.results.value.iloc[0]
        assert row["outcome"] == "refused" and says in row["reason"], (says, row["reason"])
        assert "reprotech-lab-" not in row["reason"]
    assert "FinalReport.txt, line" in lab.results.value.iloc[4]["reason"]  # the truncated file
    assert "SNP_Map.txt, line " in lab.results.value.iloc[5]["reason"]
    assert "column 'ILMN Strand'" in lab.results.value.iloc[5]["reason"]


def test_ingest_on_a_stored_chip_needs_no_map(db, sw, export, tmp_path):
    geno, _, _ = export
    register_cows(db, db.identity("system"), ["LFCOW900"])
    tech = page.LabFiles(ctx_of(db, sw, "st-tech"))
    tech.farm.value = "st-one"
    tech.typed.value = "LF-9, LFCOW900"
    tech.register_typed()
    lab = page.LabFiles(ctx_of(db, sw, "st-lab"))
    assert CHIP in lab.panel.options
    one = GenotypeSet(geno.packed[:1], np.array(["LF-9"]), geno.snps)
    lab.reports.filename = ["fr.txt"]
    lab.reports.value = [write_finalreport(one, tmp_path / "fr.txt", chip=CHIP).read_bytes()]
    lab.panel.value, lab.batch.value = CHIP, "LF-B8"
    lab.ingest()
    row = lab.results.value.iloc[0]
    assert (row["outcome"], row["samples"]) == ("stored", 1), row["reason"]


def test_vet_and_researcher_may_not_use_the_page(db, sw):
    with db.session(sw.users["st-vet"]) as s, pytest.raises(PermissionDenied):
        views.sample_customers(s)
    with pytest.raises(RuleViolation, match="samples.file_type"), \
            db.session(sw.users["st-tech"]) as s:
        views.register_sample_upload(s, "st-one", views.Upload("x.exe", b"MZ"))
