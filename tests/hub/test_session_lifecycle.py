"""One session lifecycle: signing out of the hub signs a farmer out of the portal too.

Issue #15's hole: "Sign out" ended the hub session, but the dashboard service trusted its own
cookies for hours (and Panel's logout cleared them on ``/`` instead of the path where they
were set), so the next person at a shared office computer found the farmer's herd open.
These run against a hub of their own whose dashboard service re-checks every second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
import requests

from reprotech_core.settings import Settings
from tests.hub.conftest import Hub, running_hub
from tests.hub.test_hub import signed_in
from tests.hub.test_services import DASHBOARDS, open_dashboards


@pytest.fixture(scope="module")
def session_hub(pg_settings: Settings, hub_users) -> Iterator[Hub]:
    with running_hub(pg_settings, "sessions", REPROTECH_DASHBOARDS_SESSION_CHECK_SECONDS="1",
                     REPROTECH_HUB_JOBS_SERVICE="false") as running:
        yield running


def set_cookies(response: requests.Response) -> list[SimpleCookie]:
    """Every Set-Cookie header of a response and the redirects before it."""
    found = []
    for hop in [*response.history, response]:
        for header in hop.raw.headers.getlist("Set-Cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            found.append(cookie)
    return found


def on_login_page(response: requests.Response) -> bool:
    return "/hub/login" in response.url and 'name="password"' in response.text


def test_cookies_are_httponly_samesite_and_on_their_path(session_hub: Hub) -> None:
    browser = signed_in(session_hub, "w-a-user")
    page = open_dashboards(session_hub, browser)
    cookies = [(name, morsel) for jar in set_cookies(page) for name, morsel in jar.items()]
    assert {"user", "access_token"} <= {name for name, _ in cookies}
    for name, morsel in cookies:
        assert morsel["httponly"], name
        assert morsel["samesite"].lower() in ("lax", "strict"), name
        if name in ("user", "access_token", "id_token"):
            assert morsel["path"] == DASHBOARDS, (name, morsel["path"])
    hub_login = browser.get(f"{session_hub.url}/hub/login", allow_redirects=False, timeout=30)
    for jar in set_cookies(hub_login):
        for name, morsel in jar.items():
            assert morsel["samesite"].lower() == "lax", name
            # The XSRF token is read by the hub's own page scripts by design; not a credential.
            assert morsel["httponly"] or name == "_xsrf", name


def test_security_headers_and_no_third_party_hosts(session_hub: Hub) -> None:
    browser = signed_in(session_hub, "w-a-user")
    page = open_dashboards(session_hub, browser)
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'self'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page.text)
    assert [url for url in external if not url.startswith(session_hub.url)] == []


def test_hub_sign_out_ends_the_dashboard_session(session_hub: Hub) -> None:
    browser = signed_in(session_hub, "w-a-user")
    open_dashboards(session_hub, browser)
    stolen = {c.name: c.value for c in browser.cookies if c.path == DASHBOARDS}
    assert "user" in stolen
    browser.get(f"{session_hub.url}/hub/logout", timeout=30)
    time.sleep(1.5)  # the service's answer about this token is at most a second old
    assert on_login_page(browser.get(f"{session_hub.url}{DASHBOARDS}", timeout=60))
    # The dashboard cookies alone, replayed by someone else, open nothing either.
    replay = requests.Session()
    for name, value in stolen.items():
        replay.cookies.set(name, value, path=DASHBOARDS)
    assert on_login_page(replay.get(f"{session_hub.url}{DASHBOARDS}", timeout=60))


def test_dashboard_sign_out_clears_its_cookies_and_the_hubs(session_hub: Hub) -> None:
    browser = signed_in(session_hub, "w-a-user")
    open_dashboards(session_hub, browser)
    answer = browser.get(f"{session_hub.url}{DASHBOARDS}logout", timeout=30)
    cleared = {name: morsel for jar in set_cookies(answer) for name, morsel in jar.items()
               if morsel["path"] == DASHBOARDS and morsel.value == ""}
    assert {"user", "access_token"} <= set(cleared)
    assert not [c for c in browser.cookies if c.path == DASHBOARDS and c.name == "user"]
    home = browser.get(f"{session_hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]


@pytest.mark.browser
def test_an_open_page_closes_when_the_hub_session_ends(chromium, session_hub: Hub) -> None:
    from tests.hub.test_browser import signed_in as browser_signed_in

    with browser_signed_in(chromium, session_hub, "w-a-user") as page:
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.get_by_text("w-a-user · customer_user").wait_for(timeout=60_000)
        other_tab = page.context.new_page()
        other_tab.goto(f"{session_hub.url}/hub/logout", wait_until="domcontentloaded")
        page.wait_for_url(re.compile(r".*/hub/login.*"), timeout=30_000)
        assert page.locator("input[name=password]").count() == 1
        assert [url for url in failed if not url.startswith(session_hub.url)] == []
