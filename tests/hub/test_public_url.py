"""A real hub with a public URL apart from its bind address: OAuth redirects use the public
URL; a malformed public URL stops the hub at start with a message naming the setting."""

from __future__ import annotations

import subprocess
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from tests.hub.conftest import Hub, _stop, running_hub, start_hub
from tests.hub.test_hub import signed_in

# What browsers would open; the test talks to the bind URL. Plain http: with https the hub's
# cookies are Secure and a client on the plain bind URL would (rightly) not send them back.
PUBLIC = "http://reprotech.test"


@pytest.fixture(scope="module")
def public_hub(pg_settings, hub_users) -> Hub:
    with running_hub(pg_settings, "public", REPROTECH_PUBLIC_URL=PUBLIC) as running:
        yield running


def test_the_dashboards_oauth_redirect_uses_the_public_url(public_hub: Hub) -> None:
    browser = signed_in(public_hub, "w-a-user")
    # Panel's login sends the browser to the hub's authorize page at the public address,
    # asking to come back to the public address
    start = browser.get(f"{public_hub.url}/services/dashboards/login", allow_redirects=False,
                        timeout=60)
    assert start.status_code == 302, start.text[-1000:]
    authorize = urlparse(start.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == PUBLIC
    query = parse_qs(authorize.query)
    assert query["redirect_uri"] == [f"{PUBLIC}/services/dashboards/login"]
    # the hub accepts exactly that redirect (it registered it) and sends the code there
    answer = browser.get(f"{public_hub.url}{authorize.path}?{authorize.query}",
                         allow_redirects=False, timeout=60)
    assert answer.status_code == 302, answer.text[-1000:]
    assert answer.headers["Location"].startswith(f"{PUBLIC}/services/dashboards/login?code=")
    # and refuses the bind address as a redirect target
    wrong = {**{k: v[0] for k, v in query.items()},
             "redirect_uri": f"{public_hub.url}/services/dashboards/login"}
    refused = browser.get(f"{public_hub.url}{authorize.path}?{urlencode(wrong)}",
                          allow_redirects=False, timeout=60)
    assert refused.status_code == 400


def test_a_malformed_public_url_stops_the_hub_naming_the_setting(pg_settings) -> None:
    hub, state = start_hub(pg_settings, "bad-public-url",
                           REPROTECH_PUBLIC_URL="reprotech.example.org/portal")
    try:
        code = hub.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the hub kept running with a malformed public_url")
    finally:
        _stop(hub, state)
    log = hub.log.read_text()
    assert code != 0
    assert "public_url" in log and "scheme must be http or https" in log, log[-3000:]
