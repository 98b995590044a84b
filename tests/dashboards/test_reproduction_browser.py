"""The reproduction page in headless Chromium, as the customer and as their vet, at desktop
size and at a phone's (390 x 844); screenshots in tests/artifacts/dashboards/."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import deep_text, screenshot
from tests.dashboards.test_browser_portal import LOAD_MS, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECTIONS = ("21-day cycles (breeding summary)", "Conception rate by service number",
            "Conception rate by heat or timed AI", "Pregnancy status",
            "Calving interval and age at first calving", "KPIs by month")


def _loaded(pg) -> str:
    pg.get_by_text("KPIs by month").first.wait_for(timeout=LOAD_MS)
    pg.locator("canvas").nth(3).wait_for(timeout=LOAD_MS)  # the plots drew
    return deep_text(pg)


def test_reproduction_page_desktop_and_phone(browser, portal_server, portal):
    for size, name in (({"width": 1400, "height": 1000}, "desktop"),
                       ({"width": 390, "height": 844}, "phone")):
        context = browser.new_context(viewport=size, accept_downloads=True)
        pg = context.new_page()
        try:
            open_page(pg, portal_server, "pa-admin", "page=reproduction",
                      "Reproduction · Farm pa")
            text = _loaded(pg)
            if name == "phone":
                # On a phone the menu sits above the page: fold it, as the phone's user does
                # with the menu button, to see the page from the top.
                pg.locator("#sidebar-button").click()
                pg.wait_for_timeout(500)
            assert all(s in text for s in SECTIONS), text[:3000]
            assert "eligible cow-cycles" in text
            screenshot(pg, f"reproduction-customer-{name}")
            if name == "desktop":
                with pg.expect_download() as csv:
                    pg.get_by_role("button", name="CSV").first.click()
                body = open(csv.value.path(), encoding="utf-8").read()
                assert body.startswith("Cycle start,Cycle end,Eligible,")
        finally:
            context.close()


def test_vet_opens_an_assigned_customer_only(page, portal_server, portal):
    open_page(page, portal_server, "p-vet",
              f"page=reproduction&customer={portal.farms['pa'].id}", "Reproduction · Farm pa")
    _loaded(page)
    screenshot(page, "reproduction-vet")
    open_page(page, portal_server, "p-vet",
              f"page=reproduction&customer={portal.farms['pb'].id}", "Not found.")
    assert "Farm pb" not in deep_text(page)


def test_basic_tier_has_no_reproduction_page(page, portal_server):
    open_page(page, portal_server, "pbasic-user", "page=reproduction", "Not found.")
