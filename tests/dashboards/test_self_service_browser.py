"""Reports delivered and a farm's data requests in Chromium: a farm user downloads the herd
report the nightly job delivered and turns on report emails; a farm's admin asks for an
export, an administrator carries it out on the Data requests page, and the farm's admin
downloads the zip. A farm user has neither the My data nor the Data requests page.
An administrator creates a farm with its invited admin on Customers and staff (an address in
use refused by name) and records a payment on Finance; the farm's admin downloads the invoice
PDF from Invoices, which the farm's user does not have. Screenshots under
``tests/artifacts/dashboards/``."""

from __future__ import annotations

import zipfile
from datetime import date

import pytest
from sqlalchemy import text

from reprotech_core import accounts, finance, mail, report_delivery
from tests.dashboards.conftest import ARTIFACTS, screenshot
from tests.dashboards.server import running_server
from tests.dashboards.test_browser_portal import LOAD_MS, nav_slugs, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USERS = ("pa-user", "pa-admin", "pss-admin", "pss-farm-admin", "pss-farm-user")


@pytest.fixture(scope="module")
def server(db, system, portal, pg_settings):
    """The portal's farms, an administrator, and an enterprise farm with one invoice issued
    (its admin opens the financial module; its user does not)."""
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("pss-admin", "Staff admin", "admin"))
        farm = accounts.create_customer(s, code="pss-farm", name="Fakturahof Ødegård",
                                        tier="enterprise")
        for name, role in (("pss-farm-admin", "customer_admin"),
                           ("pss-farm-user", "customer_user")):
            accounts.create_user(s, accounts.NewUser(name, name, role, "pss-farm"))
        order = finance.place_order(s, farm, finance.OrderEntry("embryo_flush",
                                                                date(2026, 10, 5)))
        finance.complete_order(s, order.id, date(2026, 10, 6))
        finance.invoice_period(s, pg_settings, "2026-10", customer_id=farm.id,
                               issued_on=date(2026, 11, 2))
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


def test_an_administrator_creates_a_farm_and_its_admin_is_invited(page, server, db, system,
                                                                   pg_settings):
    open_page(page, server, "pss-admin", "page=accounts", "Customers and staff")
    page.locator(".tabulator-row").first.wait_for(timeout=LOAD_MS)  # the page is live
    for css, value in ((".rt-new-code input", "pss-new"), (".rt-new-name input", "Neuhof"),
                       (".rt-new-admin input", "pss-new-admin"),
                       (".rt-new-admin-name input", "Nina"),
                       (".rt-new-admin-email input", "nina@neuhof.example")):
        page.locator(css).fill(value)
    page.locator(".rt-new-admin-email input").press("Tab")
    page.locator(".rt-create-customer button").click()
    try:
        page.get_by_text("Farm created; pss-new-admin was invited").wait_for(timeout=LOAD_MS)
    finally:
        screenshot(page, "admin-accounts")
    assert any(m["To"] == "nina@neuhof.example" for m in mail.outbox(pg_settings))
    for css, value in ((".rt-new-code input", "pss-dup"), (".rt-new-name input", "Dup"),
                       (".rt-new-admin input", "pss-dup-admin"),
                       (".rt-new-admin-name input", "D"),
                       (".rt-new-admin-email input", "NINA@neuhof.example")):
        page.locator(css).fill(value)
    page.locator(".rt-new-admin-email input").press("Tab")
    page.locator(".rt-create-customer button").click()
    page.get_by_text("is already the address of an account").wait_for(timeout=LOAD_MS)
    with db.session(system) as s:
        assert s.scalar(text("SELECT count(*) FROM core.customers WHERE code = 'pss-dup'")) == 0


def test_a_payment_is_recorded_and_the_farm_downloads_its_invoice(page, server, db, system,
                                                                  tmp_path):
    with db.session(system) as s:
        number, stored = s.execute(text(
            "SELECT i.number, i.pdf FROM core.invoices i JOIN core.customers c ON c.id = "
            "i.customer_id WHERE c.code = 'pss-farm'")).one()
    open_page(page, server, "pss-admin", "page=finance", "Finance")
    page.locator(".tabulator-row", has_text=number).first.wait_for(timeout=LOAD_MS)
    page.locator(".rt-unpaid-choice select").select_option(value=None, label=page.locator(
        ".rt-unpaid-choice option", has_text=number).first.inner_text())
    page.locator(".rt-mark-paid button").click()
    try:
        page.get_by_text(f"{number} paid on").wait_for(timeout=LOAD_MS)
    finally:
        screenshot(page, "admin-finance")

    open_page(page, server, "pss-farm-admin", "page=invoices", "Invoices · Fakturahof Ødegård")
    assert "invoices" in nav_slugs(page)
    page.locator(".tabulator-row", has_text=number).first.wait_for(timeout=LOAD_MS)
    with page.expect_download() as download:
        page.locator(".rt-invoice-download button").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    screenshot(page, "customer-invoices")
    assert saved.name == f"{number}.pdf" and saved.read_bytes() == bytes(stored)
    open_page(page, server, "pss-farm-user", "", "Herd overview")
    assert "invoices" not in nav_slugs(page)  # no financial module for a farm's user
    open_page(page, server, "pss-farm-user", "page=invoices", "Not found.")
