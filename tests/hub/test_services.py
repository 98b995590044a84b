"""The hub's services: the shared dashboard service (hub OAuth), the jobs service, the idle
culler and the metrics, through the real proxy."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from tests.hub.conftest import Hub
from tests.hub.test_hub import signed_in

DASHBOARDS = "/services/dashboards/"


def open_dashboards(hub: Hub, browser: requests.Session, path: str = "") -> requests.Response:
    """Open the dashboard service as a signed-in browser (the OAuth dance is followed)."""
    page = browser.get(f"{hub.url}{DASHBOARDS}{path}", timeout=60)
    hops = " -> ".join(f"{r.status_code} {r.url}" for r in [*page.history, page])
    assert page.status_code == 200, f"{hops}\n{hub.log.read_text()[-3000:]}"
    return page


@pytest.mark.parametrize("username", ["w-a-user", "w-a-admin", "w-vet", "w-tech"])
def test_dashboard_roles_land_on_the_dashboards(hub: Hub, username: str) -> None:
    from tests.hub.test_hub import sign_in

    browser, answer = sign_in(hub, username)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(DASHBOARDS)
    page = open_dashboards(hub, browser)
    assert page.status_code == 200, page.text[-1000:]
    assert urlparse(page.url).path == DASHBOARDS
    assert "bokeh" in page.text.lower()  # the Panel document, rendered by the browser


def test_researchers_land_in_their_server_not_the_dashboards(hub: Hub) -> None:
    from tests.hub.test_hub import sign_in

    _, answer = sign_in(hub, "w-res")
    assert answer.status_code == 302 and DASHBOARDS not in answer.headers["Location"]


def test_dashboards_need_a_hub_sign_in(hub: Hub) -> None:
    stranger = requests.Session()
    page = stranger.get(f"{hub.url}{DASHBOARDS}", timeout=60)
    assert "/hub/login" in page.url
    assert stranger.get(f"{hub.url}{DASHBOARDS}?customer=1", timeout=60).url == page.url or \
        "/hub/login" in stranger.get(f"{hub.url}{DASHBOARDS}?customer=1", timeout=60).url


def forge_secure_cookie(value: str, old: str, new: str) -> str:
    """Swap the username inside a signed tornado cookie (v2 format), keeping the old signature."""
    fields = value.split("|")
    length, _, encoded = fields[4].partition(":")
    decoded = base64.b64decode(encoded).decode()
    assert old in decoded, decoded
    swapped = base64.b64encode(decoded.replace(old, new).encode()).decode()
    fields[4] = f"{len(swapped)}:{swapped}"
    return "|".join(fields)


def test_a_tampered_dashboard_cookie_is_refused(hub: Hub) -> None:
    browser = signed_in(hub, "w-a-user")
    open_dashboards(hub, browser)
    user_cookies = [c for c in browser.cookies if c.name == "user"]
    assert user_cookies, [c.name for c in browser.cookies]
    for cookie in user_cookies:
        cookie.value = forge_secure_cookie(cookie.value, "w-a-user", "w-b-user")
    page = browser.get(f"{hub.url}{DASHBOARDS}", timeout=60, allow_redirects=False)
    assert page.status_code == 302 and "login" in page.headers["Location"]


def test_a_tampered_oauth_state_is_refused(hub: Hub) -> None:
    browser = signed_in(hub, "w-a-user")
    start = browser.get(f"{hub.url}{DASHBOARDS}login", timeout=60, allow_redirects=False)
    assert start.status_code == 302
    authorize = browser.get(start.headers["Location"], timeout=60, allow_redirects=False)
    assert authorize.status_code == 302
    callback = urlparse(authorize.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    assert "code" in query and "state" in query
    query["state"] = "forged" + query["state"][6:]
    answer = browser.get(f"{hub.url}{callback.path}?{urlencode(query)}", timeout=60,
                         allow_redirects=False)
    assert answer.status_code in (400, 401, 403), answer.status_code
    assert not [c for c in browser.cookies if c.name == "user"]


def test_managed_services_are_registered(hub: Hub) -> None:
    services = hub.api("GET", "/services").json()
    assert {"dashboards", "jobs", "idle-culler", "prometheus"} <= set(services)
    assert services["dashboards"]["prefix"] == DASHBOARDS


def test_the_jobs_service_runs_queued_work_while_the_hub_runs(hub: Hub, db, world) -> None:
    from sqlalchemy import text

    from jobs import queue
    from jobs.schedules import load_schedules

    admin = world.users["w-admin"]
    with db.session(admin) as s:
        run_id = queue.enqueue(s, load_schedules()["selftest"], admin)
    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline and status not in ("succeeded", "failed"):
        time.sleep(1)
        with db.session(admin) as s:
            status, error = s.execute(text(
                "SELECT status, error FROM core.job_runs WHERE id = :i"), {"i": run_id}).one()
    assert status == "succeeded", f"{error}\n{hub.log.read_text()[-3000:]}"


def test_metrics_need_the_metrics_token(hub: Hub, pg_settings) -> None:
    token = (pg_settings.secrets_dir / "metrics_token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    for path in ("/hub/metrics", f"{DASHBOARDS}metrics"):
        assert requests.get(f"{hub.url}{path}", timeout=30).status_code in (401, 403), path
        scraped = requests.get(f"{hub.url}{path}", headers=auth, timeout=30)
        assert scraped.status_code == 200, path
    text = requests.get(f"{hub.url}{DASHBOARDS}metrics", headers=auth, timeout=30).text
    assert "reprotech_dashboard_sessions" in text and "reprotech_job_runs" in text
