"""The "Lab files" page in headless Chromium: a technician registers received samples from a
scanner's sheet, lab operations upload the FinalReport with GenomeStudio's SNP_Map.txt and see
the batch's result. Screenshots are kept under ``tests/artifacts/staff/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reprotech_core.db.migrate import app_url
from reprotech_core.db.scratch import free_port
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.packing import pack
from reprotech_core.genomics.snpmap import GenotypeSet
from tests.dashboards.staff_support import StaffWorld, staff_world_for, start_server
from tests.dashboards.test_lab_files_page import register_cows
from tests.genomics.test_illumina_map import chip, write_snp_map

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "staff"
TIMEOUT_MS = 30_000
COWS = ["LBCOW1", "LBCOW2"]


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    world = staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))
    register_cows(db, system, COWS)
    return world


@pytest.fixture(scope="module")
def server(sw, pg_settings, tmp_path_factory):
    log = tmp_path_factory.mktemp("lab-files-server") / "server.log"
    srv = start_server(app_url(pg_settings), sw.settings.var_dir, free_port(),
                       ["st-tech", "st-lab"], log=log)
    yield srv
    srv.stop()


def test_technician_registers_samples_and_lab_ops_ingest_on_snp_map(chromium, server, sw,
                                                                    tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sheet = tmp_path / "scanner.csv"
    sheet.write_text(f"barcode,animal\nLB-1,{COWS[0]}\nLB-2,{COWS[1]}\n")
    snps, bot = chip(30, seed=8)
    calls = np.random.default_rng(8).integers(0, 3, size=(2, 30)).astype(np.int8)
    report = write_finalreport(GenotypeSet(pack(calls), np.array(["LB-1", "LB-2"]), snps),
                               tmp_path / "FinalReport.txt", chip="BrowserChip30")
    write_snp_map(snps, bot, tmp_path / "SNP_Map.txt")
    context = chromium.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server.url("st-tech", "page=lab-files"), wait_until="domcontentloaded")
        page.get_by_text("Received samples").wait_for()
        page.get_by_text("Storing genotypes is for lab operations").wait_for()
        page.locator(".rt-sample-sheet input[type=file]").set_input_files(str(sheet))
        page.wait_for_timeout(500)  # the file's bytes reach the server
        page.get_by_role("button", name="Register sheet").click()
        page.get_by_text("Registered 2 sample(s) from scanner.csv").wait_for()
        page.screenshot(path=str(ARTIFACTS / "technician-lab-files.png"), full_page=True)

        page.goto(server.url("st-lab", "page=lab-files"), wait_until="domcontentloaded")
        page.get_by_text("FinalReport export").wait_for()
        page.locator(".rt-finalreport input[type=file]").set_input_files(str(report))
        page.locator(".rt-map input[type=file]").set_input_files(str(tmp_path / "SNP_Map.txt"))
        page.get_by_label("Batch (plate) name").fill("LB-BATCH")
        page.get_by_label("Batch (plate) name").press("Enter")
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Ingest").click()
        page.get_by_text("LB-BATCH: stored").wait_for()
        table = page.locator(".rt-table-ingest-results")
        table.get_by_text("FinalReport.txt").wait_for()
        assert table.get_by_text("stored", exact=True).count() == 1
        page.screenshot(path=str(ARTIFACTS / "lab-ops-lab-files.png"), full_page=True)
    finally:
        context.close()
