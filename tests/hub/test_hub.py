"""Sign in to a real hub through the real proxy as each kind of user; spawn by role."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
import requests

from hub.spawner import CUSTOMER_MESSAGE
from reprotech_core.signin import WRONG_CREDENTIALS
from tests.hub.conftest import PASSWORD, Hub, otp_for, process_env

XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


def sign_in(hub: Hub, username: str, password: str = PASSWORD, otp: str | None = None):
    """Post the hub's login form like a browser; the response is not followed."""
    browser = requests.Session()
    page = browser.get(f"{hub.url}/hub/login", timeout=30)
    assert page.status_code == 200
    form = {"username": username, "password": password,
            "_xsrf": XSRF.search(page.text).group(1)}
    otp = otp_for(username) if otp is None else otp
    if otp is not None:
        form["otp"] = otp
    answer = browser.post(f"{hub.url}/hub/login", data=form, allow_redirects=False, timeout=30)
    return browser, answer


def signed_in(hub: Hub, username: str, **kwargs) -> requests.Session:
    browser, answer = sign_in(hub, username, **kwargs)
    assert answer.status_code == 302, answer.text[-2000:]
    return browser


def start_server(hub: Hub, browser: requests.Session, username: str,
                 timeout: float = 90) -> requests.Response:
    """Spawn the user's server from the hub's spawn page, then open it through the proxy."""
    browser.get(f"{hub.url}/hub/spawn", timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = hub.api("GET", f"/users/{username}").json()
        server = model["servers"].get("")
        if server and server["ready"]:
            break
        assert server, f"{username}: the spawn stopped: {hub.log.read_text()[-3000:]}"
        time.sleep(0.5)
    else:
        pytest.fail(f"{username}'s server was not ready in {timeout} s")
    # The first visit goes through the hub's OAuth and sets the server's cookie.
    lab = browser.get(f"{hub.url}/user/{username}/lab", timeout=60)
    assert lab.status_code == 200, lab.url
    return browser.get(f"{hub.url}/user/{username}/api/status", timeout=30)


def test_correct_password_signs_in(hub: Hub) -> None:
    browser, answer = sign_in(hub, "w-vet")
    assert answer.status_code == 302
    home = browser.get(f"{hub.url}/hub/home", timeout=30, allow_redirects=False)
    assert home.status_code == 200 and "w-vet" in home.text
    user = hub.api("GET", "/users/w-vet").json()
    assert "reprotech-role-veterinarian" in user["groups"]
    assert not user["admin"]


def test_admin_role_is_hub_admin(hub: Hub) -> None:
    signed_in(hub, "w-admin")
    assert hub.api("GET", "/users/w-admin").json()["admin"] is True


@pytest.mark.parametrize("username, password", [
    ("w-res", "not-the-password-1"),
    ("nobody-here", PASSWORD),
    ("w-res", ""),
])
def test_wrong_credentials_are_refused(hub: Hub, username: str, password: str) -> None:
    browser, answer = sign_in(hub, username, password)
    assert answer.status_code == 403
    home = browser.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]
    if password:
        assert WRONG_CREDENTIALS in answer.text


def test_deactivated_user_reads_like_a_wrong_password(hub: Hub) -> None:
    """Whether an account exists (active or not) is nobody's business at the login form."""
    _, answer = sign_in(hub, "hub-gone")
    assert answer.status_code == 403
    assert WRONG_CREDENTIALS in answer.text and "deactivated" not in answer.text


def test_staff_without_a_second_factor_are_refused(hub: Hub, hub_users) -> None:
    _, answer = sign_in(hub, "hub-nofactor", otp="")
    assert answer.status_code == 403 and "second factor" in answer.text


def test_staff_with_totp_needs_the_code(hub: Hub, hub_users) -> None:
    _, answer = sign_in(hub, "hub-totp", otp="")
    assert answer.status_code == 403 and WRONG_CREDENTIALS in answer.text
    _, answer = sign_in(hub, "hub-totp", otp="000000" if pyotp.TOTP(
        hub_users["totp_secret"]).now() != "000000" else "111111")
    assert answer.status_code == 403 and WRONG_CREDENTIALS in answer.text
    signed_in(hub, "hub-totp", otp=otp_for("hub-totp"))


@pytest.mark.parametrize("username, role", [("w-a-user", "customer_user"),
                                            ("w-a-admin", "customer_admin")])
def test_customer_signs_in_but_gets_no_server(hub: Hub, world, username: str, role: str) -> None:
    browser = signed_in(hub, username)
    user = hub.api("GET", f"/users/{username}").json()
    assert set(user["groups"]) == {f"reprotech-role-{role}", f"reprotech-customer-{world.farm_a}"}
    spawn = browser.get(f"{hub.url}/hub/spawn", timeout=60)
    assert spawn.status_code == 403
    assert CUSTOMER_MESSAGE.split(".")[0] in spawn.text
    assert not hub.api("GET", f"/users/{username}").json()["servers"]
    assert hub.server_pids() == [] or all(
        process_env(pid).get("JUPYTERHUB_USER") != username for pid in hub.server_pids())


@pytest.fixture(scope="module")
def researcher(hub: Hub):
    browser = signed_in(hub, "hub-res")
    status = start_server(hub, browser, "hub-res")
    return browser, status


def test_researcher_server_spawns_and_answers_through_the_proxy(hub: Hub, researcher) -> None:
    _, status = researcher
    assert status.status_code == 200
    assert "started" in status.json()


def test_researcher_server_environment_names_the_platform_without_secrets(
    hub: Hub, researcher, pg_settings
) -> None:
    pids = [p for p in hub.server_pids() if process_env(p).get("JUPYTERHUB_USER") == "hub-res"]
    assert pids
    env = process_env(pids[0])
    assert env["REPROTECH_USER"] == "hub-res" and env["REPROTECH_ROLE"] == "researcher"
    assert env["REPROTECH_DB_PORT"] and env["REPROTECH_DB_NAME"]
    assert env["MEM_LIMIT"] == str(8 * 1024**3)
    assert not any("DATABASE_URL" in key for key in env)
    secrets = [p.read_text().strip() for p in pg_settings.secrets_dir.rglob("*") if p.is_file()]
    assert len(secrets) >= 3  # database logins and the hub's own secrets
    for value in env.values():
        assert all(secret not in value for secret in secrets if len(secret) > 8)


def test_researcher_server_has_their_own_limited_database_login(hub: Hub, researcher,
                                                                pg_settings) -> None:
    import stat

    import psycopg

    browser, _ = researcher
    pids = [p for p in hub.server_pids() if process_env(p).get("JUPYTERHUB_USER") == "hub-res"]
    env = process_env(pids[0])
    assert env["PGUSER"] == "rt_hub_res" and env["PGPORT"] == str(pg_settings.db_port)
    pgpass = Path(env["PGPASSFILE"])
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600
    libpq = {k: env[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSFILE")}
    with psycopg.connect(**{"host": libpq["PGHOST"], "port": libpq["PGPORT"],
                            "dbname": libpq["PGDATABASE"], "user": libpq["PGUSER"],
                            "passfile": libpq["PGPASSFILE"]}) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "rt_hub_res"
        assert conn.execute("SELECT count(*) FROM research.animals").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT official_id FROM core.animals")
    kernels = browser.get(f"{hub.url}/user/hub-res/api/kernelspecs", timeout=30).json()
    assert kernels["default"] == "reprotech" and "reprotech" in kernels["kernelspecs"]


def test_forged_user_url_never_reaches_another_server(hub: Hub, researcher) -> None:
    lab_ops = signed_in(hub, "hub-lab")
    status = start_server(hub, lab_ops, "hub-lab")
    assert status.status_code == 200
    browser, _ = researcher
    for path in ("api/status", "lab", "api/contents"):
        forged = browser.get(f"{hub.url}/user/hub-lab/{path}", timeout=30)
        assert forged.status_code in (403, 404), (path, forged.status_code, forged.url)
        assert "/user/hub-lab/" not in forged.url or forged.status_code == 403
    stranger = requests.get(f"{hub.url}/user/hub-lab/api/status", timeout=30)
    assert stranger.status_code in (302, 403) or "/hub/login" in stranger.url
