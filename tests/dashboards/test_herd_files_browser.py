"""The "Herd files" page in headless Chromium, once as a customer admin and once as a vet: upload
a herd register, check it (the dry-run report shows the new rows and downloads as CSV), commit,
and find the animals stored. Screenshots are kept under ``tests/artifacts/staff/``."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from reprotech_core.db.migrate import app_url
from reprotech_core.db.scratch import free_port
from tests.dashboards.staff_support import start_server
from tests.dashboards.test_herd_files_page import family, herd_files_world, register_csv

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "staff"
TIMEOUT_MS = 30_000
FAMILIES = {"hf-admin": ("276000918100001", "276000918100002"),
            "hf-vet": ("276000918100003", "276000918100004")}


@pytest.fixture(scope="module")
def server(db, system, pg_settings, tmp_path_factory):
    herd_files_world(db, system)
    folder = tmp_path_factory.mktemp("herd-files-server")
    srv = start_server(app_url(pg_settings), folder, free_port(), list(FAMILIES),
                       log=folder / "server.log")
    yield srv
    srv.stop()


@pytest.mark.parametrize("user", list(FAMILIES))
def test_check_read_the_report_and_commit(chromium, server, admin_conninfo, tmp_path, user):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cow, calf = FAMILIES[user]
    register = tmp_path / "register.csv"
    register.write_bytes(register_csv(family(cow, calf)))
    context = chromium.new_context(viewport={"width": 1400, "height": 1400},
                                   accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server.url(user, "page=herd-files"), wait_until="domcontentloaded")
        page.get_by_text("Templates").wait_for()
        page.locator(".rt-herd-file input[type=file]").set_input_files(str(register))
        page.wait_for_timeout(500)  # the file's bytes reach the server
        page.get_by_role("button", name="Check (dry run)").click()
        page.get_by_text("Dry run: nothing written yet").wait_for()
        table = page.locator(".rt-table-herd-report")
        table.get_by_text(cow).wait_for()
        table.get_by_text(calf).wait_for()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download report (CSV)").click()
        saved = tmp_path / "report.csv"
        download.value.save_as(saved)
        assert cow in saved.read_text() and calf in saved.read_text()
        page.screenshot(path=str(ARTIFACTS / f"{user}-herd-files-dry-run.png"), full_page=True)
        page.get_by_role("button", name="Commit").click()
        page.get_by_text("Written.").wait_for()
        page.screenshot(path=str(ARTIFACTS / f"{user}-herd-files-written.png"), full_page=True)
    finally:
        context.close()
    with psycopg.connect(admin_conninfo) as conn:
        rows = conn.execute("SELECT a.official_id, c.code FROM core.animals a JOIN "
                            "core.customers c ON c.id = a.customer_id WHERE a.official_id = "
                            "ANY(%s) ORDER BY 1", ([cow, calf],)).fetchall()
    assert rows == [(cow, "hf-one"), (calf, "hf-one")]
