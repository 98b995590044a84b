"""Production sign-in (OIDC) against a local identity provider (oidc-provider-mock).

The provider runs in a thread on 127.0.0.1; a second real hub uses ``hub_authenticator =
"oidc"``. The browser is played by requests: hub -> provider's authorization form -> hub
callback, with the hub exchanging the code and reading userinfo itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from urllib.parse import urljoin

import oidc_provider_mock
import pytest
import requests
import werkzeug.serving

from tests.hub.conftest import Hub, running_hub
from tests.support import free_port


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on loopback, tests only
    server = werkzeug.serving.make_server("127.0.0.1", free_port(), oidc_provider_mock.app(),
                                          threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)


@pytest.fixture(scope="module")
def oidc_hub(pg_settings, hub_users, provider: str) -> Iterator[Hub]:
    with running_hub(
        pg_settings, "oidc",
        REPROTECH_HUB_AUTHENTICATOR="oidc",
        REPROTECH_HUB_OIDC_AUTHORIZE_URL=f"{provider}/oauth2/authorize",
        REPROTECH_HUB_OIDC_TOKEN_URL=f"{provider}/oauth2/token",
        REPROTECH_HUB_OIDC_USERINFO_URL=f"{provider}/userinfo",
        REPROTECH_HUB_OIDC_CLIENT_ID="reprotech-hub",
        REPROTECH_HUB_OIDC_CLIENT_SECRET="hub-test-client-secret",
        AUTHLIB_INSECURE_TRANSPORT="1",
    ) as running:
        yield running


def oidc_sign_in(hub: Hub, provider: str, sub: str, claims: dict) -> requests.Response:
    """The identity provider knows ``sub`` with ``claims``; sign in to the hub through it."""
    assert requests.put(f"{provider}/users/{sub}", json=claims, timeout=10).status_code == 204
    browser = requests.Session()
    start = browser.get(f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=30)
    assert start.status_code == 302 and start.headers["Location"].startswith(provider)
    authorize = start.headers["Location"]
    assert browser.get(authorize, timeout=30).status_code == 200
    answer = browser.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[-1000:]
    callback = urljoin(authorize, answer.headers["Location"])
    assert callback.startswith(f"{hub.url}/hub/oauth_callback")
    return browser.get(callback, allow_redirects=False, timeout=30)


def test_oidc_researcher_signs_in_with_the_platform_role(oidc_hub: Hub, provider: str) -> None:
    done = oidc_sign_in(oidc_hub, provider, "sub-res",
                        {"preferred_username": "w-res", "groups": ["reprotech-role-researcher"]})
    assert done.status_code == 302, done.text[-2000:]
    user = oidc_hub.api("GET", "/users/w-res").json()
    assert user["groups"] == ["reprotech-role-researcher"] and not user["admin"]


def test_oidc_customer_gets_their_customer_from_the_database(
    oidc_hub: Hub, provider: str, world
) -> None:
    done = oidc_sign_in(oidc_hub, provider, "sub-b-user",
                        {"preferred_username": "w-b-user",
                         "groups": ["reprotech-role-customer_user", "reprotech-customer-999"]})
    assert done.status_code == 302, done.text[-2000:]
    groups = oidc_hub.api("GET", "/users/w-b-user").json()["groups"]
    assert sorted(groups) == sorted(["reprotech-role-customer_user",
                                     f"reprotech-customer-{world.farm_b}"])


def test_oidc_admin_group_makes_a_hub_admin(oidc_hub: Hub, provider: str) -> None:
    done = oidc_sign_in(oidc_hub, provider, "sub-admin",
                        {"preferred_username": "w-admin", "groups": ["reprotech-role-admin"]})
    assert done.status_code == 302, done.text[-2000:]
    assert oidc_hub.api("GET", "/users/w-admin").json()["admin"] is True


@pytest.mark.parametrize("sub, claims, message", [
    ("sub-claims-admin", {"preferred_username": "w-tech", "groups": ["reprotech-role-admin"]},
     "does not match"),
    ("sub-unknown", {"preferred_username": "not-a-platform-user",
                     "groups": ["reprotech-role-researcher"]}, "not active"),
    ("sub-no-role", {"preferred_username": "w-lab", "groups": ["staff"]}, None),
])
def test_oidc_refuses_roles_the_platform_does_not_confirm(
    oidc_hub: Hub, provider: str, sub: str, claims: dict, message: str | None
) -> None:
    done = oidc_sign_in(oidc_hub, provider, sub, claims)
    assert done.status_code == 403
    if message:
        assert message in done.text
    name = claims["preferred_username"]
    found = oidc_hub.api("GET", f"/users/{name}")
    assert found.status_code == 404 or not found.json()["admin"]
