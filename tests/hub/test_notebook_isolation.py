"""A notebook server is its user's own unprivileged account, not the platform.

Issue #15's hole: a researcher's JupyterLab ran as the hub's account (root here) and could read
the PostgreSQL superuser password and the hub's cookie secret, and run ``reprotech`` as the
platform's ``system`` user. Each test below runs code in the user's real kernel (the hub, the
proxy, the server's REST API and the kernel's websocket) and tries what an attacker would.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import time
from pathlib import Path

import pandas as pd
import pytest

from reprotech_core.ops.private_files import RESEARCH_GROUP, share_research_store
from reprotech_core.settings import Settings
from tests.hub.conftest import Hub, process_env
from tests.hub.kernels import run_code
from tests.hub.test_hub import signed_in, start_server

PROBE = r'''
import json, os, pwd, subprocess, sys
from pathlib import Path

def attempt(action):
    try:
        action()
        return "allowed"
    except PermissionError:
        return "denied"
    except Exception as exc:
        return type(exc).__name__ + ": " + str(exc)[:200]

targets = json.loads(TARGETS)
report = {"account": pwd.getpwuid(os.getuid()).pw_name, "uid": os.getuid(),
          "groups": sorted(os.getgroups()), "home": os.environ.get("HOME"),
          "umask": oct(os.umask(0o077)), "env": sorted(os.environ)}
report["read"] = {p: attempt(lambda p=p: open(p, "rb").read(1)) for p in targets["files"]}
report["list"] = {p: attempt(lambda p=p: os.listdir(p)) for p in targets["folders"]}
cli = subprocess.run([str(Path(sys.executable).parent / "reprotech"), "db", "url", "--admin"],
                     capture_output=True, text=True)
report["cli"] = [cli.returncode, (cli.stdout + cli.stderr)[-300:]]

def as_system():
    from reprotech_core.db.session import get_database
    get_database().identity("system")
report["as_system"] = attempt(as_system)

import psycopg
with psycopg.connect("") as conn:
    report["database_login"] = conn.execute("SELECT session_user").fetchone()[0]

def research_store():
    from reprotech_core.store.analytics import connect
    connect().execute("SELECT count(*) FROM isolation_probe").fetchone()
report["research_store"] = attempt(research_store)
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def platform_files(pg_settings: Settings) -> dict[str, list[str]]:
    """The platform's private files a notebook must not read, and a research table it may."""
    store = pg_settings.var_dir / "store"
    (store / "research").mkdir(parents=True, exist_ok=True)
    (store / "tenants" / "probe-farm").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"animal": ["R1"]}).to_parquet(store / "research" / "isolation_probe.parquet")
    (store / "tenants" / "probe-farm" / "animals.parquet").write_bytes(b"tenant data")
    share_research_store(store)
    secrets = sorted(str(p) for p in pg_settings.secrets_dir.iterdir() if p.is_file())
    assert any("postgres" in s for s in secrets) and any("cookie" in s for s in secrets)
    hub_db = sorted(str(p) for p in (pg_settings.var_dir / "hubs").rglob("jupyterhub.sqlite"))
    assert hub_db
    return {
        "files": [*secrets, *hub_db,
                  str(store / "tenants" / "probe-farm" / "animals.parquet")],
        "folders": [str(pg_settings.secrets_dir), str(pg_settings.var_dir),
                    str(store / "tenants"), str(pg_settings.homes_dir)],
    }


def probe(hub: Hub, username: str, targets: dict[str, list[str]]) -> dict:
    code = f"TARGETS = {json.dumps(json.dumps(targets))}\n{PROBE}"
    return json.loads(run_code(hub, username, code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def servers(hub: Hub) -> dict[str, str]:
    """The researcher's and the lab operator's servers, running; their homes."""
    homes = {}
    for username in ("hub-res", "hub-lab"):
        status = start_server(hub, signed_in(hub, username), username)
        assert status.status_code == 200
        pid = next(p for p in hub.server_pids()
                   if process_env(p).get("JUPYTERHUB_USER") == username)
        homes[username] = process_env(pid)["HOME"]
    return homes


def test_each_server_runs_as_its_own_unprivileged_account(hub: Hub, servers) -> None:
    accounts = {}
    for username in servers:
        pid = next(p for p in hub.server_pids()
                   if process_env(p).get("JUPYTERHUB_USER") == username)
        uid = Path(f"/proc/{pid}").stat().st_uid
        accounts[username] = pwd.getpwuid(uid)
        assert uid != 0 and uid != os.geteuid()
        assert accounts[username].pw_shell == "/usr/sbin/nologin"
    assert accounts["hub-res"].pw_name == "rt-hub-res"
    assert accounts["hub-res"].pw_uid != accounts["hub-lab"].pw_uid


def test_homes_are_private_to_their_account(servers) -> None:
    for username, home in servers.items():
        info = Path(home).stat()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert pwd.getpwuid(info.st_uid).pw_name == f"rt-{username}"
        pgpass = Path(home) / ".pgpass"
        assert pgpass.stat().st_uid == info.st_uid and stat.S_IMODE(pgpass.stat().st_mode) == 0o600


def test_a_researchers_kernel_cannot_read_the_platform(hub: Hub, servers, platform_files,
                                                       pg_settings) -> None:
    report = probe(hub, "hub-res", {
        **platform_files,
        "files": [*platform_files["files"], str(Path(servers["hub-lab"]) / ".pgpass")],
        "folders": [*platform_files["folders"], servers["hub-lab"]],
    })
    assert report["account"] == "rt-hub-res" and report["uid"] != 0
    assert report["home"] == servers["hub-res"]
    assert report["umask"] == "0o77"
    assert {p: v for p, v in report["read"].items() if v != "denied"} == {}
    assert {p: v for p, v in report["list"].items() if v != "denied"} == {}
    # The platform CLI and the application login are out of reach: no secret to read.
    assert report["cli"][0] != 0 and "postgresql" not in report["cli"][1], report["cli"]
    assert report["as_system"] != "allowed"
    assert not [k for k in report["env"] if k.startswith("REPROTECH_") and k not in {
        "REPROTECH_DB_HOST", "REPROTECH_DB_PORT", "REPROTECH_DB_NAME", "REPROTECH_DATA_DIR",
        "REPROTECH_HUB_URL", "REPROTECH_USER", "REPROTECH_ROLE"}]
    # What the researcher's work needs: their own row-security login and the research store.
    assert report["database_login"] == "rt_hub_res"
    assert report["research_store"] == "allowed", report["research_store"]


def test_a_lab_operators_kernel_cannot_read_the_research_store(hub: Hub, servers,
                                                               platform_files) -> None:
    report = probe(hub, "hub-lab", platform_files)
    assert report["account"] == "rt-hub-lab"
    assert {p: v for p, v in report["read"].items() if v != "denied"} == {}
    assert report["database_login"] == "rt_hub_lab"
    assert report["research_store"] == "denied"
    import grp

    assert grp.getgrnam(RESEARCH_GROUP).gr_gid not in report["groups"]


def test_a_link_planted_in_the_home_is_not_followed_at_the_next_spawn(hub: Hub, servers,
                                                                      pg_settings) -> None:
    """The hub writes the user's .pgpass into a home the user controls: a link left there
    must not make the hub overwrite the file it points at."""
    victim = pg_settings.var_dir / "link-victim"
    victim.write_text("untouched")
    code = (f"import os; os.remove({str(Path(servers['hub-lab']) / '.pgpass')!r}); "
            f"os.symlink({str(victim)!r}, {str(Path(servers['hub-lab']) / '.pgpass')!r}); "
            "print('planted')")
    assert "planted" in run_code(hub, "hub-lab", code)
    assert hub.api("DELETE", "/users/hub-lab/server").status_code in (202, 204)
    deadline = time.monotonic() + 60
    while hub.api("GET", "/users/hub-lab").json()["servers"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert start_server(hub, signed_in(hub, "hub-lab"), "hub-lab").status_code == 200
    assert victim.read_text() == "untouched"
    pgpass = Path(servers["hub-lab"]) / ".pgpass"
    assert not pgpass.is_symlink() and "rt_hub_lab" in pgpass.read_text()
