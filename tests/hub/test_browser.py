"""The platform as a person meets it: headless Chromium through the real hub and proxy.

Sign-in with the hub's login form, the hub's OAuth into the shared dashboard service, the Panel
page rendered by the browser (websocket through the proxy), and a forged dashboard URL. The
screenshots are kept under ``tests/artifacts/hub/``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.hub.conftest import PASSWORD, Hub, otp_for

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "hub"


@pytest.fixture(autouse=True, scope="module")
def artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


@contextmanager
def signed_in(chromium, hub: Hub, username: str, lands: str = "/services/dashboards/"):
    """A fresh browser context signed in through the hub's login form, on its landing page."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        otp = otp_for(username)
        if otp is not None:
            page.fill("input[name=otp]", otp)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(re.compile(f".*{re.escape(lands)}.*"), timeout=120_000)
        yield page
    finally:
        context.close()


def test_customer_signs_in_and_sees_their_dashboard(chromium, hub: Hub) -> None:
    with signed_in(chromium, hub, "w-a-user") as page:
        page.get_by_text("w-a-user · customer_user").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "customer-landing.png"), full_page=True)
        assert page.get_by_text("Farm B").count() == 0
        assert page.get_by_text("WB-SECRET").count() == 0


def test_a_forged_dashboard_url_reads_not_found(chromium, hub: Hub) -> None:
    """A customer asking for a staff page by URL gets the same "Not found." as a typo."""
    with signed_in(chromium, hub, "w-a-user") as page:
        page.goto(f"{hub.url}/services/dashboards/?page=system", wait_until="domcontentloaded")
        page.get_by_text("Not found.").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "customer-forged-url.png"), full_page=True)


def test_vet_with_second_factor_reaches_the_staff_dashboards(chromium, hub: Hub) -> None:
    with signed_in(chromium, hub, "w-vet") as page:
        page.get_by_text("w-vet · veterinarian").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "vet-landing.png"), full_page=True)
        page.goto(f"{hub.url}/services/dashboards/?page=record", wait_until="domcontentloaded")
        page.get_by_text("Breeding events for the customers you work for").wait_for(
            timeout=60_000)
        # Assigned customers only (locators pierce Bokeh's shadow DOM, page.content() does not).
        assert page.get_by_text("Farm A (w-a)").count() >= 1
        assert page.get_by_text("Farm B").count() == 0
        page.screenshot(path=str(ARTIFACTS / "vet-record-work.png"), full_page=True)


def test_researcher_gets_jupyterlab_through_the_proxy(chromium, hub: Hub) -> None:
    with signed_in(chromium, hub, "hub-res", lands="/user/hub-res/lab") as page:
        # The launcher offers the platform's kernel (hub/kernel.py), named as users see it.
        page.locator(".jp-LauncherCard", has_text="Reprotech").first.wait_for(timeout=120_000)
        # Their curated notebooks are in their home (hub/spawner.py role_notebooks).
        page.locator(".jp-DirListing-item", has_text="research").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "researcher-lab.png"))
