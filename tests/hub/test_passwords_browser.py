"""Passwords as a person meets them in Chromium, through the real hub and proxy: "Forgot your
password?" on the sign-in page, the emailed link (read from the embedded default's file
outbox), the new password, the spent link refused, signing in with the new password, and
changing it again while signed in; enrolling a second factor from the dashboards' header and
signing in with its code. Screenshots under ``tests/artifacts/hub/``."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pyotp
import pytest

from reprotech_core import accounts, mail
from tests.hub.conftest import Hub

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "hub"
FORGOTTEN = "forgotten-password-1"
CHOSEN = "chosen-after-reset-2"
CHANGED = "changed-when-signed-in-3"


@pytest.fixture
def farmer(db, system, world) -> tuple[str, str]:
    name = f"pw-farmer-{uuid.uuid4().hex[:6]}"
    address = f"{name}@farm-a.example"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, "Farmer who forgot", "customer_user",
                                                 "w-a", email=address, password=FORGOTTEN))
    return name, address


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def emailed_link(settings, address: str) -> str:
    [message] = [m for m in mail.outbox(settings) if m["To"] == address]
    return re.search(r"(https?://\S+/hub/password-reset/\S+)", message.get_content()).group(1)


def sign_in(page, hub: Hub, name: str, password: str) -> None:
    page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")


def test_a_forgotten_password_is_reset_through_the_emailed_link(chromium, hub: Hub,
                                                                pg_settings, farmer):
    name, address = farmer
    context = chromium.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
        page.get_by_text("Forgot your password?").click()
        page.wait_for_url(re.compile(r".*/hub/password-reset$"))
        page.fill("input[name=login]", address.upper())  # addresses match in any case
        page.click("button[type=submit]")
        page.locator(".rt-password-done").wait_for()
        assert "a link to choose a new password is on its way" in page.content()
        shot(page, "password-reset-requested")

        link = emailed_link(pg_settings, address)
        assert link.startswith(f"{hub.url}/hub/password-reset/")  # the browser's address
        page.goto(link, wait_until="domcontentloaded")
        page.fill("input[name=new]", CHOSEN)
        page.fill("input[name=again]", CHOSEN + "!")
        page.click("button[type=submit]")
        page.locator(".rt-password-error").get_by_text("the two new passwords differ").wait_for()
        page.fill("input[name=new]", CHOSEN)
        page.fill("input[name=again]", CHOSEN)
        page.click("button[type=submit]")
        page.locator(".rt-password-done").get_by_text(f"The password of {name} is changed")\
            .wait_for()
        shot(page, "password-reset-done")

        page.goto(link, wait_until="domcontentloaded")  # the link works once
        page.fill("input[name=new]", "yet-another-password-4")
        page.fill("input[name=again]", "yet-another-password-4")
        page.click("button[type=submit]")
        page.locator(".rt-password-error").get_by_text("has been used already").wait_for()

        sign_in(page, hub, name, FORGOTTEN)  # the old password is gone
        page.get_by_text("Invalid username or password.").wait_for()
        sign_in(page, hub, name, CHOSEN)
        page.wait_for_url(re.compile(r".*/services/dashboards/.*"), timeout=120_000)
        page.get_by_text(f"{name} · customer_user").wait_for(timeout=60_000)

        page.get_by_role("link", name="Password").click()  # the dashboards' header
        page.wait_for_url(re.compile(r".*/hub/password$"))
        page.fill("input[name=current]", "not-my-password-at-all")
        page.fill("input[name=new]", CHANGED)
        page.fill("input[name=again]", CHANGED)
        page.click("button[type=submit]")
        page.locator(".rt-password-error").get_by_text("current password is not right")\
            .wait_for()
        page.fill("input[name=current]", CHOSEN)
        page.fill("input[name=new]", CHANGED)
        page.fill("input[name=again]", CHANGED)
        page.click("button[type=submit]")
        page.locator(".rt-password-done").wait_for()
        shot(page, "password-changed")
    finally:
        context.close()
    context = chromium.new_context()
    try:
        page = context.new_page()
        sign_in(page, hub, name, CHANGED)
        page.wait_for_url(re.compile(r".*/services/dashboards/.*"), timeout=120_000)
    finally:
        context.close()


def test_a_forged_link_is_refused_and_changes_nothing(chromium, hub: Hub):
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/password-reset/{'A' * 43}", wait_until="domcontentloaded")
        page.fill("input[name=new]", CHOSEN)
        page.fill("input[name=again]", CHOSEN)
        page.click("button[type=submit]")
        page.locator(".rt-password-error").get_by_text("is not valid").wait_for()
        response = page.goto(f"{hub.url}/hub/password-reset/short")  # not a token's shape
        assert response.status == 404
    finally:
        context.close()


def test_a_farmer_enrols_a_second_factor_and_then_signs_in_with_its_code(chromium, hub: Hub,
                                                                         farmer):
    name, _ = farmer
    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, hub, name, FORGOTTEN)
        page.wait_for_url(re.compile(r".*/services/dashboards/.*"), timeout=120_000)
        page.get_by_role("link", name="Second factor").click()  # the dashboards' header
        page.wait_for_url(re.compile(r".*/hub/totp$"))
        page.locator(".rt-totp-qr").wait_for()
        secret = page.locator(".rt-totp-key").inner_text().strip()
        shot(page, "totp-enrol")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.fill("input[name=password]", "not-my-password-at-all")
        page.click("button[type=submit]")
        page.locator(".rt-totp-error").get_by_text("the password is not right").wait_for()
        secret = page.locator(".rt-totp-key").inner_text().strip()  # a fresh one was offered
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.fill("input[name=password]", FORGOTTEN)
        page.click("button[type=submit]")
        page.locator(".rt-totp-done").get_by_text("Enrolled").wait_for()
        shot(page, "totp-enrolled")
    finally:
        context.close()
    context = chromium.new_context()
    try:
        page = context.new_page()
        sign_in(page, hub, name, FORGOTTEN)  # no code: refused
        page.get_by_text("Invalid username or password.").wait_for()
        page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", FORGOTTEN)
        page.fill("input[name=otp]", pyotp.TOTP(secret).now())
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r".*/services/dashboards/.*"), timeout=120_000)
    finally:
        context.close()
