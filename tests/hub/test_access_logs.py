"""A real sign-in leaves no OAuth code, state or token in the hub's or the dashboards' logs.

A customer signs in to a real hub and follows the hub's OAuth into the shared dashboard
service (hub -> /hub/api/oauth2/authorize -> /services/dashboards/login?code=…&state=…);
the dashboards are asked for a URL carrying ``token`` and ``_xsrf`` values, the metrics with a
bearer token, and a forged state is refused. The managed services write to
the hub's output, so ``Hub.log`` holds both logs. Every secret value the browser saw must be
absent, and the request lines must be there, scrubbed (so the test cannot pass on an empty log).
The same holds for the production sign-in: ``/hub/oauth_callback?code=…&state=…`` from OIDC.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests

from tests.hub.conftest import Hub
from tests.hub.test_hub import sign_in
from tests.hub.test_oidc import oidc_hub, provider  # noqa: F401 (fixtures)

DASHBOARDS = "/services/dashboards/"
UNSCRUBBED = re.compile(r"[?&;](?:code|state|token|access_token|_xsrf)=(?!\*\*\*|\[secret\])"
                        r"[^&\s\"']+")


SECRET_PARAMETERS = {"code", "state", "token", "access_token", "_xsrf"}


def follow(browser: requests.Session, url: str, seen: set[str]) -> requests.Response:
    """Follow redirects by hand, keeping the secret query values the browser was handed."""
    for _ in range(10):
        answer = browser.get(url, allow_redirects=False, timeout=60)
        for key, values in parse_qs(urlparse(url).query).items():
            if key in SECRET_PARAMETERS:
                seen.update(values)
        if answer.status_code not in (301, 302, 303):
            return answer
        url = urljoin(url, answer.headers["Location"])
    raise AssertionError(f"too many redirects from {url}")


def wait_for(hub: Hub, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = hub.log.read_text(errors="replace")
        if needle in log or time.monotonic() > deadline:
            assert needle in log, f"{needle!r} never logged:\n{log[-3000:]}"
            return log
        time.sleep(0.3)


def assert_clean(log: str, secrets: set[str]) -> None:
    leaked = sorted(s for s in secrets if s in log)
    lines = [line for line in log.splitlines() if any(s in line for s in leaked)]
    assert leaked == [], "secret values in the log:\n" + "\n".join(lines[:5])
    assert UNSCRUBBED.findall(log) == []


def test_a_customer_sign_in_into_the_dashboards_leaves_no_secret_in_the_logs(
        hub: Hub, pg_settings) -> None:
    browser, answer = sign_in(hub, "w-a-user")
    assert answer.status_code == 302
    secrets: set[str] = {hub.api_token}
    page = follow(browser, f"{hub.url}{DASHBOARDS}", secrets)
    assert page.status_code == 200 and "bokeh" in page.text.lower()
    assert any(len(s) >= 16 for s in secrets), "the OAuth dance handed over no code"

    # A second dance whose state is forged: refused, and its unused code stays secret.
    start = browser.get(f"{hub.url}{DASHBOARDS}login", allow_redirects=False, timeout=60)
    authorize = browser.get(start.headers["Location"], allow_redirects=False, timeout=60)
    callback = urljoin(start.headers["Location"], authorize.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(urlparse(callback).query).items()}
    secrets.update(query.values())
    forged = {**query, "state": "forged" + query["state"][6:]}
    secrets.add(forged["state"])
    answer = browser.get(f"{hub.url}{urlparse(callback).path}?{urlencode(forged)}",
                         allow_redirects=False, timeout=60)
    assert answer.status_code in (400, 401, 403), answer.status_code

    # Tokens in a query string and in an Authorization header.
    probe = {"token": "query-token-0123456789", "_xsrf": "2|xsrf-value|0123456789|1700000000"}
    secrets.update(probe.values())
    browser.get(f"{hub.url}{DASHBOARDS}", params=probe, timeout=60)
    requests.get(f"{hub.url}/hub/api/user", params={"token": hub.api_token}, timeout=30)
    metrics_token = (pg_settings.secrets_dir / "metrics_token").read_text().strip()
    secrets.add(metrics_token)
    assert requests.get(f"{hub.url}{DASHBOARDS}metrics", timeout=30,
                        headers={"Authorization": f"Bearer {metrics_token}"}).status_code == 200
    secrets.update(c.value for c in browser.cookies if c.value and len(c.value) >= 8)

    # The dashboards' own access log (tornado through the scrubber) and the hub's (JupyterHub
    # scrubs its own) both wrote the requests.
    log = wait_for(hub, f"GET {DASHBOARDS}login?code=***&state=***")
    log = wait_for(hub, "_xsrf=***")
    assert "/hub/api/oauth2/authorize" in log
    assert_clean(log, secrets)


def test_an_oidc_callback_leaves_no_code_in_the_hub_log(
        oidc_hub: Hub, provider: str) -> None:  # noqa: F811 (fixtures imported above)
    assert requests.put(f"{provider}/users/sub-logs", timeout=10, json={
        "preferred_username": "w-a-user",
        "groups": ["reprotech-role-customer_user"]}).status_code == 204
    browser = requests.Session()
    start = browser.get(f"{oidc_hub.url}/hub/oauth_login", allow_redirects=False, timeout=30)
    authorize = start.headers["Location"]
    assert browser.get(authorize, timeout=30).status_code == 200
    answer = browser.post(authorize, data={"sub": "sub-logs"}, allow_redirects=False, timeout=30)
    callback = urljoin(authorize, answer.headers["Location"])
    assert callback.startswith(f"{oidc_hub.url}/hub/oauth_callback?")
    seen: set[str] = set()
    page = follow(browser, callback, seen)  # on into the dashboards, a customer's landing
    assert page.status_code == 200 and urlparse(page.url).path == DASHBOARDS
    assert len(seen) >= 4, "the callback and the dashboards' login carried codes and states"
    seen.update(c.value for c in browser.cookies if c.value and len(c.value) >= 8)
    log = wait_for(oidc_hub, "GET /hub/oauth_callback?")
    lines = [line for line in log.splitlines() if "GET /hub/oauth_callback?" in line]
    masked = re.compile(r"code=(?:\*\*\*|\[secret\]).*state=(?:\*\*\*|\[secret\])|"
                        r"state=(?:\*\*\*|\[secret\]).*code=(?:\*\*\*|\[secret\])")
    assert lines and all(masked.search(line) for line in lines), lines
    log = wait_for(oidc_hub, f"GET {DASHBOARDS}login?code=***&state=***")
    assert_clean(log, seen | {"hub-test-client-secret"})
