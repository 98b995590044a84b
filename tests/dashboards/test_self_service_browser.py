"""Reports delivered and a farm's data requests in Chromium: a farm user downloads the herd
report the nightly job delivered and turns on report emails; a farm's admin asks for an
export, an administrator carries it out on the Data requests page, and the farm's admin
downloads the zip. A farm user has neither the My data nor the Data requests page.
Screenshots under ``tests/artifacts/dashboards/``."""

from __future__ import annotations

import zipfile

import pytest
from sqlalchemy import text

from reprotech_core import accounts, report_delivery
from tests.dashboards.conftest import ARTIFACTS, screenshot
from tests.dashboards.server import running_server
from tests.dashboards.test_browser_portal import LOAD_MS, nav_slugs, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USERS = ("pa-user", "pa-admin", "pss-admin")


@pytest.fixture(scope="module")
def server(db, system, portal, pg_settings):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("pss-admin", "Staff admin", "admin"))
    with running_server(pg_settings, USERS, ARTIFACTS / "self-service-server.log") as srv:
        yield srv


def test_a_farm_user_downloads_the_delivered_report_and_asks_for_it_by_email(
        page, server, db, system, portal, pg_settings, tmp_path):
    [done] = report_delivery.deliver(db, system, pg_settings, customer_code="pa")
    open_page(page, server, "pa-user", "page=reports", "Reports · Farm pa")
    assert "reports" in nav_slugs(page) and "my-data" not in nav_slugs(page)
    page.locator(".tabulator-row").first.wait_for(timeout=LOAD_MS)
    with page.expect_download() as download:
        page.locator(".rt-report-download button").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with db.session(system) as s:
        stored = s.scalar(text("SELECT pdf FROM core.customer_reports WHERE id = :r"),
                          {"r": done.report_id})
    assert saved.name.startswith("pa-herd-report-") and saved.read_bytes() == bytes(stored)
    page.locator(".rt-email-report input").check()
    try:
        page.get_by_text("Saved: email me each new herd report").wait_for(timeout=LOAD_MS)
    finally:
        screenshot(page, "customer-reports")
    with db.session(system) as s:
        assert s.scalar(text(
            "SELECT email FROM core.notification_settings WHERE topic = 'report' AND user_id = "
            "(SELECT id FROM core.users WHERE username = 'pa-user')")) is True
    open_page(page, server, "pa-user", "page=my-data", "Not found.")


def test_an_export_goes_from_the_farms_admin_to_an_administrator_and_back(
        page, server, db, system, tmp_path):
    open_page(page, server, "pa-admin", "page=my-data", "My farm's data")
    page.locator(".rt-export-reason input").fill("a copy for our accountant")
    page.locator(".rt-export-reason input").press("Tab")
    page.locator(".rt-ask-export button").click()
    page.get_by_text("went to Reprotech").wait_for(timeout=LOAD_MS)
    page.locator(".rt-ask-erasure button").click()  # no code typed: refused by name
    page.get_by_text("type the farm's code (pa) to confirm it").wait_for(timeout=LOAD_MS)

    open_page(page, server, "pss-admin", "page=data-requests", "Data requests")
    page.locator(".rt-request-choice select").select_option(
        label=page.locator(".rt-request-choice option", has_text="a copy for our accountant")
        .first.inner_text())
    page.locator(".rt-carry-out button").click()
    try:
        page.get_by_text("Export of pa written").wait_for(timeout=LOAD_MS * 2)
    finally:
        screenshot(page, "admin-data-requests")

    open_page(page, server, "pa-admin", "page=my-data", "My farm's data")
    with page.expect_download() as download:
        page.locator(".rt-export-file button").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    screenshot(page, "customer-admin-my-data")
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert "pa/manifest.json" in names and "pa/records/animals.csv" in names
    with db.session(system) as s:
        assert s.scalar(text(
            "SELECT count(*) FROM core.data_requests r JOIN core.customers c ON c.id = "
            "r.customer_id WHERE c.code = 'pa' AND r.status = 'pending'")) == 0
