"""A customer admin's self-service pages in Chromium: inviting a user of their farm (the
invitation lands in the embedded default's outbox) and reading it back in the audit trail;
a customer user has neither page. Screenshots under ``tests/artifacts/dashboards/``."""

from __future__ import annotations

import uuid

import pytest

from reprotech_core import mail
from tests.dashboards.conftest import screenshot
from tests.dashboards.test_browser_portal import LOAD_MS, nav_slugs, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_customer_admin_invites_a_user_and_finds_it_in_the_audit_trail(page, portal_server,
                                                                          pg_settings):
    name = f"pa-inv-{uuid.uuid4().hex[:6]}"
    open_page(page, portal_server, "pa-admin", "page=users", "Users of my farm")
    assert {"users", "audit"} <= set(nav_slugs(page))
    page.locator(".tabulator-row").first.wait_for(timeout=LOAD_MS)  # the page is live
    page.locator(".rt-invite-username input").fill(name)
    page.locator(".rt-invite-name input").fill("Invited Farmhand")
    page.locator(".rt-invite-email input").fill(f"{name}@farm-pa.example")
    page.locator(".rt-invite button").click()
    try:
        page.get_by_text(f"Invited {name}: a link to choose a password went to").wait_for(
            timeout=LOAD_MS)
    finally:
        screenshot(page, "customer-admin-users")
    assert any(m["To"] == f"{name}@farm-pa.example" for m in mail.outbox(pg_settings))

    page.locator(".rt-invite-username input").fill("pa-vet-wannabe")
    page.locator(".rt-invite-name input").fill("X")
    page.locator(".rt-invite-email input").fill(f"{name}@FARM-PA.example")  # taken
    page.locator(".rt-invite-email input").press("Tab")
    page.locator(".rt-invite button").click()
    page.get_by_text("is already the address of an account").wait_for(timeout=LOAD_MS)

    open_page(page, portal_server, "pa-admin", "page=audit", "Audit trail")
    page.get_by_text("event(s).").first.wait_for(timeout=LOAD_MS)
    page.locator(".tabulator-row").first.wait_for(timeout=LOAD_MS)  # the page is live
    page.locator(".rt-audit-table select").select_option("core.users")  # searches at once
    try:
        page.get_by_text("event(s) in core.users.").first.wait_for(timeout=LOAD_MS)
    finally:
        screenshot(page, "customer-admin-audit")
    page.locator(".tabulator-cell", has_text=f"username: {name}").first.wait_for(
        timeout=LOAD_MS)
    screenshot(page, "customer-admin-audit")


def test_a_customer_user_has_neither_page(page, portal_server):
    open_page(page, portal_server, "pa-user", "", "Herd overview · Farm pa")
    assert not {"users", "audit"} & set(nav_slugs(page))
    for slug in ("users", "audit"):
        open_page(page, portal_server, "pa-user", f"page={slug}", "Not found.")
