"""The public URL and the service addresses: validated when the settings load (a wrong one is
named), defaults unchanged for the embedded single machine, and every browser-facing address
(OAuth redirects, OIDC callback, websocket origin, email links) built on the public URL."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from hub.services import services
from jobs.notify import run_link
from reprotech_core.hub_services import dashboards_redirect_uri
from reprotech_core.settings import PROJECT_HOME, Settings, SettingsError, checked_url

TOKEN = "cd" * 32


def make(**values) -> Settings:
    return Settings(home=PROJECT_HOME, **values)


def test_defaults_keep_the_embedded_single_machine():
    s = make()
    assert s.public_url is None and s.public_base == "http://127.0.0.1:8000"
    assert s.dashboards_bind == "127.0.0.1"
    assert s.dashboards_reach_url == f"http://127.0.0.1:{s.dashboards_port}"
    assert s.oidc_callback_url == "http://127.0.0.1:8000/hub/oauth_callback"
    assert s.dashboards_managed and s.hub_idle_culler


def test_the_hub_api_and_dashboards_are_reached_where_they_listen():
    s = make()
    assert s.hub_api_bind == "127.0.0.1" and s.hub_local_ip == "127.0.0.1"
    assert s.hub_api_reach_url == "http://127.0.0.1:8081"
    apart = make(hub_api_bind="127.0.0.4", hub_api_port=8181, dashboards_bind="127.0.0.5")
    assert apart.hub_local_ip == "127.0.0.4"
    assert apart.hub_api_reach_url == "http://127.0.0.4:8181"
    assert apart.dashboards_reach_url == f"http://127.0.0.5:{apart.dashboards_port}"
    container = make(hub_api_bind="0.0.0.0", hub_api_url="http://hub:8081/",
                     dashboards_bind="0.0.0.0")
    assert container.hub_local_ip == "127.0.0.1"  # the proxy API and notebook servers stay local
    assert container.hub_api_reach_url == "http://hub:8081"
    assert container.dashboards_reach_url == f"http://127.0.0.1:{container.dashboards_port}"


def test_a_hub_api_url_with_a_path_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="hub_api_url"):
        make(hub_api_url="http://hub:8081/hub/api")


def test_without_a_public_url_the_bind_url_is_what_browsers_open():
    s = make(hub_bind_url="http://127.0.0.1:8123")
    assert s.public_base == "http://127.0.0.1:8123"
    assert dashboards_redirect_uri(s) == "http://127.0.0.1:8123/services/dashboards/login"


def test_browser_addresses_follow_the_public_url_not_the_bind_url():
    s = make(hub_bind_url="http://0.0.0.0:8000", public_url="https://reprotech.example.org/")
    assert s.public_base == "https://reprotech.example.org" and s.public_is_https
    assert s.oidc_callback_url == "https://reprotech.example.org/hub/oauth_callback"
    assert dashboards_redirect_uri(s) == \
        "https://reprotech.example.org/services/dashboards/login"
    assert run_link(s, 42) == \
        "https://reprotech.example.org/services/dashboards/?page=jobs&run=42"
    given = make(public_url="https://r.example.org",
                 hub_oidc_callback_url="https://r.example.org/custom/callback")
    assert given.oidc_callback_url == "https://r.example.org/custom/callback"


def test_the_dashboards_websocket_origin_and_policy_use_the_public_host():
    from dashboards.serve import content_security_policy, hub_oauth

    s = make(hub_bind_url="http://0.0.0.0:8000", public_url="https://reprotech.example.org",
             dashboards_cookie_secret=TOKEN)
    env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_CLIENT_ID": "service-dashboards",
           "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
           "JUPYTERHUB_SERVICE_PREFIX": "/services/dashboards/"}
    oauth = hub_oauth(s, env)
    assert oauth["websocket_origin"] == ["reprotech.example.org"]
    assert oauth["oauth_redirect_uri"] == "https://reprotech.example.org/services/dashboards/login"
    assert oauth["oauth_extra_params"]["AUTHORIZE_URL"] == \
        "https://reprotech.example.org/hub/api/oauth2/authorize"
    assert oauth["oauth_extra_params"]["TOKEN_URL"] == "http://hub:8081/hub/api/oauth2/token"
    assert "wss://reprotech.example.org" in content_security_policy(s.public_base)
    assert "0.0.0.0" not in str(oauth)


@pytest.mark.parametrize(("value", "problem"), [
    ("reprotech.example.org", "scheme must be http or https"),
    ("ftp://reprotech.example.org", "scheme must be http or https"),
    ("https://", "no host name"),
    ("https://reprotech.example.org/hub", "no path allowed"),
    ("https://reprotech.example.org/?a=1", "no query or fragment"),
    ("https://reprotech.example.org:99999", "not a URL"),
])
def test_a_malformed_public_url_is_refused_naming_the_setting(value, problem):
    with pytest.raises(ValidationError) as caught:
        make(public_url=value)
    (error,) = caught.value.errors()
    assert error["loc"] == ("public_url",)
    assert "public_url" in error["msg"] and problem in error["msg"]


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(SettingsError) as caught:
        checked_url("public_url", "https://admin:hunter2@reprotech.example.org", root_only=True)
    assert "public_url" in str(caught.value) and "hunter2" not in str(caught.value)


def test_get_settings_names_a_wrong_public_url(monkeypatch, tmp_path):
    from reprotech_core.settings import get_settings

    monkeypatch.setenv("REPROTECH_HOME", str(tmp_path))
    monkeypatch.setenv("REPROTECH_PUBLIC_URL", "reprotech.example.org/portal")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=r"public_url: .*scheme must be http or https"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_dashboards_url_and_tokens_are_checked():
    with pytest.raises(ValidationError, match="dashboards_url"):
        make(dashboards_url="reprotech-dashboards:8050")
    with pytest.raises(ValidationError, match="metrics_token must be at least 32 hex digits"):
        make(metrics_token="not-hex")


def test_services_route_to_a_dashboard_service_that_runs_apart():
    s = make(public_url="https://reprotech.example.org", dashboards_managed=False,
             dashboards_url="http://reprotech-dashboards:8050", dashboards_api_token=TOKEN,
             hub_idle_culler=False, hub_jobs_service=False)
    defined, roles = services(s, "metrics")
    by_name = {d["name"]: d for d in defined}
    assert set(by_name) == {"dashboards", "prometheus"}
    dashboards = by_name["dashboards"]
    assert dashboards["url"] == "http://reprotech-dashboards:8050"
    assert dashboards["api_token"] == TOKEN and "command" not in dashboards
    assert dashboards["oauth_redirect_uri"] == \
        "https://reprotech.example.org/services/dashboards/login"
    assert "idle-culler" not in {r["name"] for r in roles}


def test_the_embedded_services_are_unchanged():
    defined, roles = services(make(), "metrics")
    by_name = {d["name"]: d for d in defined}
    assert {"dashboards", "idle-culler", "prometheus", "jobs"} == set(by_name)
    assert by_name["dashboards"]["url"] == "http://127.0.0.1:8050"
    assert "command" in by_name["dashboards"] and "api_token" not in by_name["dashboards"]
    assert "idle-culler" in {r["name"] for r in roles}


def test_compose_gives_the_hub_a_public_url_apart_from_its_bind_address(tmp_path):
    from tests.ops.test_k8s import settings_from

    compose = yaml.safe_load((PROJECT_HOME / "deploy/compose.yaml").read_text())
    env = {k: str(v) for k, v in compose["services"]["hub"]["environment"].items()}
    env.pop("REPROTECH_DATABASE_URL_FILE")  # a Docker secret file, absent here
    env["REPROTECH_HUB_OIDC_CLIENT_SECRET"] = "stand-in"  # from secrets/hub.env
    s = settings_from(env, tmp_path)
    assert s.hub_bind_url == "http://0.0.0.0:8000"
    assert s.public_base.startswith("https://") and "0.0.0.0" not in s.public_base
    assert "0.0.0.0" not in s.oidc_callback_url + dashboards_redirect_uri(s)
    jobs = {k: str(v) for k, v in compose["services"]["jobs"]["environment"].items()}
    assert jobs["REPROTECH_PUBLIC_URL"] == s.public_base  # email links
