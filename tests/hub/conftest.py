"""A real JupyterHub and configurable-http-proxy on 127.0.0.1, against the session database.

The hub runs the platform's own ``hub/jupyterhub_config.py`` (through
``jupyterhub_test_config.py``, which adds an admin API token for the tests) in a subprocess,
with the settings of the session's test platform passed as ``REPROTECH_*`` variables.
The world's users get passwords; stopping the hub stops the proxy and the spawned servers.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import requests

from reprotech_core.settings import PROJECT_HOME, Settings
from tests.support import free_port

PASSWORD = "hub-test-password-1"
CONFIG = Path(__file__).with_name("jupyterhub_test_config.py")
PROXY = PROJECT_HOME / ".npm" / "node_modules" / ".bin" / "configurable-http-proxy"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/hub/" in str(item.fspath):
            item.add_marker(pytest.mark.db)
            item.add_marker(pytest.mark.slow)


@dataclass
class Hub:
    url: str
    api_port: int
    api_token: str
    process: subprocess.Popen
    log: Path
    api_host: str = "127.0.0.1"  # where its API listens (hub_api_bind)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                                headers={"Authorization": f"token {self.api_token}"}, **kwargs)

    def server_pids(self) -> list[int]:
        """Processes started by this hub for users (found by their JUPYTERHUB_API_URL)."""
        marker = f"JUPYTERHUB_API_URL=http://{self.api_host}:{self.api_port}/hub/api".encode()
        return [pid for pid, env in _environments().items() if marker in env]


def _environments() -> dict[int, bytes]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "environ").read_bytes()
            except OSError:
                continue
    return found


def process_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


STAFF_TOTP: dict[str, str] = {}
"""TOTP secret of every staff user the hub tests sign in as (filled by ``hub_users``)."""


_USED_STEP: dict[str, int] = {}
"""The last TOTP time step handed out per user: the hub accepts each code once."""


def otp_for(username: str) -> str | None:
    """A one-time code of a staff test user the hub has not accepted yet (``None`` for
    customers): the current step's, or the next one's (the hub accepts one step of drift),
    waiting for time to move on when both were used."""
    secret = STAFF_TOTP.get(username)
    if not secret:
        return None
    totp = pyotp.TOTP(secret)
    step = max(totp.timecode(datetime.now(UTC)), _USED_STEP.get(username, -1) + 1)
    while step > totp.timecode(datetime.now(UTC)) + 1:
        time.sleep(0.5)
    _USED_STEP[username] = step
    return totp.generate_otp(step)


@pytest.fixture(scope="session")
def hub_users(world, db, system) -> dict[str, str]:
    """Every world user with a password (staff with TOTP, which the hub requires of them), a
    staff user without a second factor, and a deactivated one."""
    from reprotech_core import accounts
    from reprotech_core.roles import Role
    from reprotech_core.signin import enrol_totp

    with db.session(system) as s:
        for name, identity in world.users.items():
            accounts.set_password(s, name, PASSWORD)
            if not Role(identity.role).customer_scoped:
                STAFF_TOTP[name] = pyotp.parse_uri(enrol_totp(s, name)).secret
        accounts.create_user(s, accounts.NewUser("hub-totp", "TOTP researcher", "researcher",
                                                 password=PASSWORD))
        STAFF_TOTP["hub-totp"] = pyotp.parse_uri(enrol_totp(s, "hub-totp")).secret
        # Spawning provisions a fresh notebook login, which would invalidate the password the
        # world fixture holds for w-res/w-lab; the hub tests spawn their own staff users.
        for name, role in (("hub-res", "researcher"), ("hub-lab", "lab_ops")):
            accounts.create_user(s, accounts.NewUser(name, name, role, password=PASSWORD))
            STAFF_TOTP[name] = pyotp.parse_uri(enrol_totp(s, name)).secret
        accounts.create_user(s, accounts.NewUser("hub-nofactor", "No factor", "researcher",
                                                 password=PASSWORD))
        accounts.create_user(s, accounts.NewUser("hub-gone", "Gone researcher", "researcher",
                                                 password=PASSWORD))
        accounts.deactivate(s, "hub-gone")
    return {"totp_secret": STAFF_TOTP["hub-totp"]}


@contextmanager
def running_hub(settings: Settings, name: str, **extra_env: str) -> Iterator[Hub]:
    """Start a hub (state in ``<hub_dir>/<name>``) with the platform's settings; stop it after."""
    running, state = start_hub(settings, name, **extra_env)
    try:
        _wait_until_up(running)
        yield running
    finally:
        _stop(running, state)


def start_hub(settings: Settings, name: str, **extra_env: str) -> tuple[Hub, Path]:
    """Launch a hub process without waiting for it (tests of a refused start wait for its
    exit instead); the caller stops it with ``_stop``."""
    if not os.access(PROXY, os.X_OK):
        pytest.fail(f"configurable-http-proxy missing at {PROXY}: run `./run test` to install it")
    port, api_port, proxy_api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(16)
    state = settings.var_dir / "hubs" / name
    state.mkdir(parents=True, exist_ok=True)
    for folder in ("config", "notebooks"):  # the jobs service runs the checkout's notebooks
        link = settings.home / folder
        if not link.exists():
            link.symlink_to(PROJECT_HOME / folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPROTECH_", "JUPYTERHUB_"))}
    env.update(
        REPROTECH_HOME=str(settings.home),
        REPROTECH_DATA_DIR=str(settings.var_dir),
        REPROTECH_DB_PORT=str(settings.db_port),
        REPROTECH_HUB_STATE_DIR=str(state),
        REPROTECH_HUB_BIND_URL=f"http://127.0.0.1:{port}",
        REPROTECH_HUB_API_PORT=str(api_port),
        REPROTECH_HUB_PROXY_API_PORT=str(proxy_api_port),
        REPROTECH_HUB_PROXY_COMMAND=str(PROXY),
        HUB_TEST_API_TOKEN=token,
        # The jobs service runs workers for the tests' own runs; no scheduled catch-up here.
        REPROTECH_SCHEDULER_CATCHUP_HOURS="0",
        REPROTECH_JOB_WORKERS="1",
        REPROTECH_DASHBOARDS_PORT=str(free_port()),
        **extra_env,
    )
    log = state / "jupyterhub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
            cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return Hub(f"http://127.0.0.1:{port}", api_port, token, process, log), state


@pytest.fixture(scope="session")
def hub(pg_settings: Settings, hub_users) -> Iterator[Hub]:
    with running_hub(pg_settings, "local") as running:
        yield running


def _wait_until_up(hub: Hub, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            pytest.fail(f"the hub exited ({hub.process.returncode}):\n{hub.log.read_text()[-4000:]}")
        try:
            if requests.get(f"{hub.url}/hub/api", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the hub did not answer in {timeout} s:\n{hub.log.read_text()[-4000:]}")


def _stop(hub: Hub, state: Path) -> None:
    """SIGTERM the hub (it stops the servers and the proxy); kill whatever is left."""
    proxy_pid_file = state / "proxy.pid"
    proxy_pid = int(proxy_pid_file.read_text()) if proxy_pid_file.exists() else None
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.process.pid, signal.SIGKILL)
            hub.process.wait()
    leftovers = hub.server_pids() + ([proxy_pid] if proxy_pid and _alive(proxy_pid) else [])
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"the hub left processes running: {leftovers}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and ") Z " not in stat.read_text()
