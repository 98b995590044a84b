"""The platform spread over several hosts, each on a loopback address of its own (issue 19).

Linux routes all of 127/8 to ``lo``, so every part below listens on its own address and the
others reach it only through the settings (``REPROTECH_*``) they are given — never through a
127.0.0.1 default::

    Chromium ──> public URL 127.0.0.8 (the ingress: a plain TCP relay here, TLS in production)
                   └─> configurable-http-proxy 127.0.0.4 (hub_bind_url)
                         ├─> JupyterHub API 127.0.0.4 (hub_api_bind / hub_api_url)
                         ├─> /user/<name>/  notebook servers on the hub's host 127.0.0.4
                         └─> /services/dashboards/  Panel 127.0.0.5 (dashboards_bind/_url)
    hub, dashboards, worker "host" A (127.0.0.6), worker "host" B (127.0.0.7)
        ──> PgBouncer 127.0.0.3 (transaction pooling) ──> PostgreSQL 127.0.0.2
    notebook logins ──> PostgreSQL 127.0.0.2 directly (db_host / db_port)

What is asserted: each process listens on its own address and nowhere else; the proxy's routes
point at the addresses from the settings; a customer signs in through the public URL in
Chromium and sees their herd (and not another farm's); a researcher spawns a server through
that hub; two workers on two "hosts" drain one queue exactly once, both taking work; a worker
host lost mid-run (its processes killed) has its run retried on the other host and recorded
once; PgBouncer restarted under load fails requests cleanly and they recover.

The workers open no port: their "host" is the name they claim runs under. Outgoing loopback
connections carry the source address 127.0.0.1 whatever address they dial (the kernel's
``src`` for 127/8), so what the test pins down is where each part listens and whom it dials.
Everything starts once for the module and is stopped in finalizers.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from sqlalchemy import make_url, text

from jobs import queue
from jobs.schedules import Schedule
from reprotech_core.db.cluster import cluster_account
from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.settings import PROJECT_HOME, Settings
from tests.db.test_pgbouncer import PGBOUNCER, Bouncer
from tests.hub.conftest import (
    PASSWORD,
    PROXY,
    STAFF_TOTP,
    Hub,
    _stop,
    _wait_until_up,
    process_env,
)
from tests.hub.test_hub import signed_in, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(PGBOUNCER, os.X_OK),
                       reason="Debian's pgbouncer is not installed: `./run test` installs it"),
]

HOSTS = {"postgres": "127.0.0.2", "pgbouncer": "127.0.0.3", "hub": "127.0.0.4",
         "dashboards": "127.0.0.5", "worker-a": "127.0.0.6", "worker-b": "127.0.0.7",
         "public": "127.0.0.8"}
LEASE_S = 6  # job_lease_seconds of the workers: a lost host's run is retried after this
SELFTEST = Schedule(name="mh-selftest", notebook="notebooks/jobs/selftest.ipynb",
                    parameters={"fail": False}, retries=2, timeout_s=120)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "hub"


def free_port_on(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (returned) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"{what}: not within {timeout} s")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def listening() -> dict[int, set[str]]:
    """Listening TCP addresses per process id (``ss``)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found: dict[int, set[str]] = {}
    for line in out.splitlines():
        local = line.split()[3]
        for pid in re.findall(r"pid=(\d+)", line):
            found.setdefault(int(pid), set()).add(local)
    return found


class Relay:
    """The public entry: a plain TCP relay from the public address to the hub's proxy, as a
    TLS-terminating ingress or load balancer would be in production (websockets pass)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen, self.target = listen, target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _pipe(self, reader, writer) -> None:  # noqa: ANN001 (asyncio streams)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader, writer) -> None:  # noqa: ANN001
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, *self.listen), self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Service:
    """A platform process started on its "host" (its own session, log under the state dir)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            cwd=self.log.parent)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Platform:
    settings: Settings  # the PostgreSQL host's (embedded cluster on 127.0.0.2)
    db: Database  # the operator's view: the application login, straight to PostgreSQL
    bouncer: Bouncer
    hub: Hub
    hub_state: Path
    public_url: str
    hub_env: dict[str, str]
    dashboards: Service
    workers: dict[str, Service]
    metrics_token: str
    marks: Path
    extra: dict = field(default_factory=dict)

    @property
    def system(self):
        return self.db.identity("system")

    def runs(self, ids) -> dict:
        with self.db.session(self.system) as s:
            return {r.id: r for r in s.execute(text(
                "SELECT * FROM core.job_runs WHERE id = ANY(:i)"), {"i": list(ids)})}

    def enqueue(self, n: int, **parameters) -> list[int]:
        with self.db.session(self.system) as s:
            return [queue.enqueue(s, SELFTEST, self.system, parameters={
                **parameters, "marker": str(self.marks / f"m-{secrets.token_hex(4)}")})
                for _ in range(n)]

    def markers(self, ids) -> list[int]:
        """Run ids written by the runs' notebooks (a run's side effect: once per run)."""
        paths = {r.parameters["marker"] for r in self.runs(ids).values()}
        return sorted(int(x) for p in paths if Path(p).exists() for x in Path(p).read_text().split())


class Owners:
    """Samples which worker holds each running run (``lease_owner``) while a test runs."""

    def __init__(self, platform: Platform, ids: list[int]) -> None:
        self.platform, self.ids = platform, ids
        self.seen: dict[int, list[str]] = {i: [] for i in ids}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop_event.is_set():
            with self.platform.db.session(self.platform.system) as s:
                for row in s.execute(text(
                        "SELECT id, lease_owner FROM core.job_runs WHERE id = ANY(:i) "
                        "AND status = 'running' AND lease_owner IS NOT NULL"),
                        {"i": self.ids}):
                    if not self.seen[row.id] or self.seen[row.id][-1] != row.lease_owner:
                        self.seen[row.id].append(row.lease_owner)
            self.stop_event.wait(0.1)

    def __enter__(self) -> Owners:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(10)


def _bouncer(settings: Settings, folder: Path) -> Bouncer:
    """PgBouncer on its own host in transaction mode, in front of PostgreSQL's host."""
    account = cluster_account(settings)
    app = make_url(app_url(settings))
    port = free_port_on(HOSTS["pgbouncer"])
    (folder / "userlist.txt").write_text(f'"{app.username}" "{app.password}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(f"""[databases]
{app.database} = host={settings.db_host} port={settings.db_port} dbname={app.database}

[pgbouncer]
listen_addr = {HOSTS['pgbouncer']}
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder / 'userlist.txt'}
pool_mode = transaction
default_pool_size = 10
max_client_conn = 200
logfile = {folder / 'pgbouncer.log'}
pidfile = {folder / 'pgbouncer.pid'}
""")
    for path in (folder, *folder.iterdir()):
        os.chown(path, account.uid, account.gid)
    (folder / "userlist.txt").chmod(0o600)
    return Bouncer(port, folder, ini, account, host=HOSTS["pgbouncer"])


def _seed(db: Database) -> None:
    """Two farms (one is the customer who signs in), a researcher with a second factor."""
    from reprotech_core import accounts
    from reprotech_core.animals import AnimalRecord, register_animals
    from reprotech_core.signin import enrol_totp

    system = db.identity("system")
    with db.session(system) as s:
        hill = accounts.create_customer(s, code="mh-a", name="Hill Farm", tier="professional")
        vale = accounts.create_customer(s, code="mh-b", name="Vale Farm", tier="professional")
        for c in (hill, vale):
            accounts.create_herd(s, customer=c, code=f"{c.code}-h", name="Main")
        register_animals(s, hill, [AnimalRecord(f"MHA-COW{i}", "Holstein", "F",
                                                date(2019, 1, i), herd_code="mh-a-h")
                                   for i in (1, 2, 3)])
        register_animals(s, vale, [AnimalRecord("MHB-SECRET", "Jersey", "F", date(2020, 6, 1),
                                                herd_code="mh-b-h")])
        accounts.create_user(s, accounts.NewUser("mh-a-user", "Hill farmer", "customer_user",
                                                 "mh-a", password=PASSWORD))
        accounts.create_user(s, accounts.NewUser("mh-res", "Multi-host researcher",
                                                 "researcher", password=PASSWORD))
        STAFF_TOTP["mh-res"] = pyotp.parse_uri(enrol_totp(s, "mh-res")).secret


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    if not os.access(PROXY, os.X_OK):
        pytest.fail(f"configurable-http-proxy missing at {PROXY}: run `./run test`")
    stack: list = []  # finalizers, run last-in first-out
    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        # PostgreSQL's host: the embedded cluster, listening on 127.0.0.2 only.
        context = scratch_platform(prefix="multihost", db_host=HOSTS["postgres"],
                                   db_port=free_port_on(HOSTS["postgres"]))
        settings = context.__enter__()
        stack.append(lambda: context.__exit__(None, None, None))
        root = settings.home
        for folder in ("config", "notebooks"):  # the code's files, as each host's image has
            (root / folder).symlink_to(PROJECT_HOME / folder)
        db = Database(app_url(settings))
        stack.append(db.dispose)
        _seed(db)
        timings["postgres"] = time.monotonic() - started

        folder = Path(tempfile.mkdtemp(prefix="reprotech-mh-pgbouncer-"))
        stack.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        bouncer = _bouncer(settings, folder)
        bouncer.start()
        stack.append(bouncer.stop)

        ports = {name: free_port_on(HOSTS[name]) for name in ("hub", "dashboards", "public")}
        hub_api_port, proxy_api_port = free_port_on(HOSTS["hub"]), free_port_on(HOSTS["hub"])
        public_url = f"http://{HOSTS['public']}:{ports['public']}"
        hub_api_url = f"http://{HOSTS['hub']}:{hub_api_port}"
        dashboards_url = f"http://{HOSTS['dashboards']}:{ports['dashboards']}"
        pooled = make_url(app_url(settings)).set(
            drivername="postgresql", host=HOSTS["pgbouncer"], port=bouncer.port)
        direct_admin = make_url(admin_url(settings)).set(drivername="postgresql")
        shared_secrets = {name: secrets.token_hex(32) for name in (
            "metrics_token", "dashboards_api_token", "dashboards_cookie_secret")}
        # What every host is given: the code, the shared data folder, the database through
        # PgBouncer, PostgreSQL's own address for notebook logins, the public URL.
        common = {k: v for k, v in os.environ.items()
                  if not k.startswith(("REPROTECH_", "JUPYTERHUB_"))}
        common.update({
            "REPROTECH_HOME": str(root),
            "REPROTECH_DATA_DIR": str(settings.var_dir),
            "REPROTECH_DATABASE_URL": pooled.render_as_string(hide_password=False),
            "REPROTECH_DB_TRANSACTION_POOLING": "true",
            "REPROTECH_DB_HOST": HOSTS["postgres"],
            "REPROTECH_DB_PORT": str(settings.db_port),
            "REPROTECH_PUBLIC_URL": public_url,
            **{f"REPROTECH_{k.upper()}": v for k, v in shared_secrets.items()},
        })
        state = settings.var_dir / "hubs" / "multihost"
        state.mkdir(parents=True)
        token = secrets.token_hex(16)
        hub_env = {
            **common,
            # migrations and notebook logins need the administrative login, on the hub only
            "REPROTECH_DATABASE_ADMIN_URL": direct_admin.render_as_string(hide_password=False),
            "REPROTECH_HUB_BIND_URL": f"http://{HOSTS['hub']}:{ports['hub']}",
            "REPROTECH_HUB_API_BIND": HOSTS["hub"],
            "REPROTECH_HUB_API_URL": hub_api_url,
            "REPROTECH_HUB_API_PORT": str(hub_api_port),
            "REPROTECH_HUB_PROXY_API_PORT": str(proxy_api_port),
            "REPROTECH_HUB_PROXY_COMMAND": str(PROXY),
            "REPROTECH_HUB_STATE_DIR": str(state),
            "REPROTECH_DASHBOARDS_MANAGED": "false",
            "REPROTECH_DASHBOARDS_URL": dashboards_url,
            "REPROTECH_HUB_JOBS_SERVICE": "false",
            "REPROTECH_HUB_IDLE_CULLER": "false",
            "HUB_TEST_API_TOKEN": token,
        }
        hub_log = state / "jupyterhub.log"
        with hub_log.open("wb") as out:
            hub_process = subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyterhub"), "-f",
                 str(Path(__file__).with_name("jupyterhub_test_config.py"))],
                cwd=state, env=hub_env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        hub = Hub(public_url, hub_api_port, token, hub_process, hub_log, api_host=HOSTS["hub"])
        stack.append(lambda: _stop(hub, state))

        relay = Relay((HOSTS["public"], ports["public"]), (HOSTS["hub"], ports["hub"]))
        relay.start()
        stack.append(relay.stop)

        # The dashboard service on its own host, as deploy/k8s/dashboards.yaml runs it: the
        # hub's API, its token and prefix are what a hub-managed service would be handed.
        dash_dir = settings.var_dir / "hosts" / "dashboards"
        dash_dir.mkdir(parents=True)
        dashboards = Service("dashboards", [sys.executable, "-m", "dashboards.serve"], {
            **common,
            "REPROTECH_DASHBOARDS_BIND": HOSTS["dashboards"],
            "REPROTECH_DASHBOARDS_PORT": str(ports["dashboards"]),
            "JUPYTERHUB_API_URL": f"{hub_api_url}/hub/api",
            "JUPYTERHUB_API_TOKEN": shared_secrets["dashboards_api_token"],
            "JUPYTERHUB_CLIENT_ID": "service-dashboards",
            "JUPYTERHUB_SERVICE_PREFIX": "/services/dashboards/",
            "PYTHONPATH": str(PROJECT_HOME),
        }, dash_dir / "dashboards.log")
        dashboards.start()
        stack.append(dashboards.stop)

        workers = {}
        for name in ("worker-a", "worker-b"):
            host_dir = settings.var_dir / "hosts" / name
            host_dir.mkdir(parents=True)
            workers[name] = Service(
                name, [str(Path(sys.executable).with_name("reprotech")), "jobs", "worker",
                       "--name", f"{name}@{HOSTS[name]}"],
                {**common, "REPROTECH_JOB_LEASE_SECONDS": str(LEASE_S)},
                host_dir / "worker.log")
            workers[name].start()
            stack.append(workers[name].stop)

        _wait_until_up(hub, timeout=90)
        timings["hub"] = time.monotonic() - started
        wait_for(lambda: dashboards.process.poll() is not None or requests.get(
            f"{public_url}/services/dashboards/metrics", timeout=5,
            headers={"Authorization": f"Bearer {shared_secrets['metrics_token']}"}
        ).status_code == 200, 90, 0.5, "the dashboard service answering through the proxy")
        assert dashboards.process.poll() is None, dashboards.tail()
        timings["up"] = time.monotonic() - started
        marks = settings.var_dir / "marks"
        marks.mkdir()
        yield Platform(settings, db, bouncer, hub, state, public_url, hub_env, dashboards,
                       workers, shared_secrets["metrics_token"], marks,
                       extra={"timings": timings, "relay": relay})
    finally:
        errors = []
        for finalizer in reversed(stack):
            try:
                finalizer()
            except Exception as exc:  # noqa: BLE001 (every finalizer runs; reported below)
                errors.append(exc)
        print(f"\nmulti-host platform: start timings {timings}, "
              f"module total {time.monotonic() - started:.1f} s")
        assert not errors, errors


def _addresses(listens: set[str]) -> set[str]:
    return {a.rsplit(":", 1)[0].strip("[]") for a in listens}


def test_each_part_listens_on_its_own_host_and_the_proxy_routes_by_the_settings(platform):
    sockets = listening()
    pg_pid = int((platform.settings.pg_data_dir / "postmaster.pid").read_text().split()[0])
    proxy_pid = int((platform.hub_state / "proxy.pid").read_text())
    parts = {
        "postgres": [pg_pid],
        "pgbouncer": [platform.bouncer.process.pid],
        "hub": [platform.hub.process.pid, proxy_pid],
        "dashboards": descendants(platform.dashboards.process.pid),
    }
    for part, pids in parts.items():
        addresses = set().union(*(_addresses(sockets.get(pid, set())) for pid in pids))
        assert addresses == {HOSTS[part]}, (part, addresses)
    for name, worker in platform.workers.items():  # workers dial out and listen nowhere
        assert not any(sockets.get(pid) for pid in descendants(worker.process.pid)), name
    # The proxy (asked on its API at the hub's address) sends each prefix where the settings say.
    proxy_token = (platform.settings.secrets_dir / "hub_proxy_token").read_text().strip()
    routes = requests.get(
        f"http://{HOSTS['hub']}:{platform.hub_env['REPROTECH_HUB_PROXY_API_PORT']}/api/routes",
        headers={"Authorization": f"token {proxy_token}"}, timeout=10).json()
    targets = {prefix: urlsplit(route["target"]).netloc for prefix, route in routes.items()}
    assert targets["/"] == urlsplit(platform.hub_env["REPROTECH_HUB_API_URL"]).netloc
    assert targets["/services/dashboards"] == urlsplit(
        platform.hub_env["REPROTECH_DASHBOARDS_URL"]).netloc
    assert not any(t.startswith(("127.0.0.1:", "localhost:")) for t in targets.values()), targets


@pytest.mark.browser
def test_a_customer_signs_in_through_the_public_url_and_sees_their_herd(platform, chromium):
    from tests.hub.test_browser import signed_in as browser_signed_in

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_signed_in(chromium, platform.hub, "mh-a-user") as page:
        assert page.url.startswith(f"{platform.public_url}/services/dashboards/")
        page.get_by_text("mh-a-user · customer_user").wait_for(timeout=60_000)
        page.goto(f"{platform.public_url}/services/dashboards/?page=animals",
                  wait_until="domcontentloaded")
        page.get_by_text("3 animals (").first.wait_for(timeout=60_000)
        for cow in ("MHA-COW1", "MHA-COW2", "MHA-COW3"):
            page.get_by_text(cow).first.wait_for(timeout=30_000)
        assert page.get_by_text("MHB-SECRET").count() == 0
        assert page.get_by_text("Vale Farm").count() == 0
        page.screenshot(path=str(ARTIFACTS / "multihost-customer-herd.png"), full_page=True)


def test_a_researcher_spawns_a_server_through_the_public_url(platform):
    import psycopg

    browser = signed_in(platform.hub, "mh-res")
    status = start_server(platform.hub, browser, "mh-res", timeout=120)
    assert status.status_code == 200 and "started" in status.json()
    pids = [p for p in platform.hub.server_pids() if process_env(p).get("JUPYTERHUB_USER")
            == "mh-res"]
    assert pids, "the researcher's server is not among the hub's processes"
    env = process_env(pids[0])
    # on the hub's host, calling the hub at hub_api_url, its database login straight to PostgreSQL
    assert env["JUPYTERHUB_API_URL"] == f"{platform.hub_env['REPROTECH_HUB_API_URL']}/hub/api"
    assert env["PGHOST"] == HOSTS["postgres"] and env["REPROTECH_DB_HOST"] == HOSTS["postgres"]
    served = set().union(*(_addresses(listening().get(p, set())) for p in descendants(pids[0])))
    assert served == {HOSTS["hub"]}, served
    with psycopg.connect(host=env["PGHOST"], port=env["PGPORT"], dbname=env["PGDATABASE"],
                         user=env["PGUSER"], passfile=env["PGPASSFILE"]) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == env["PGUSER"]


def test_two_workers_on_two_hosts_drain_one_queue_exactly_once(platform):
    ids = platform.enqueue(6, sleep_s=1.0)
    with Owners(platform, ids) as owners:
        wait_for(lambda: all(r.status == "succeeded" for r in platform.runs(ids).values()),
                 180, 0.5, "the six runs succeeding")
    final = platform.runs(ids)
    assert all(r.attempts == 1 and r.lease_owner is None for r in final.values())
    assert platform.markers(ids) == sorted(ids)  # each run's side effect exactly once
    assert all(len(o) == 1 for o in owners.seen.values()), owners.seen  # one holder per run
    took = {o[0] for o in owners.seen.values()}
    assert took == {f"{n}@{HOSTS[n]}" for n in platform.workers}, owners.seen


def _scrape(platform: Platform) -> tuple[int | None, float | None, str]:
    """One scrape of the dashboard service's metrics through the public URL: (HTTP status,
    reprotech_db_up, error text); the request must answer within its timeout."""
    try:
        answer = requests.get(f"{platform.public_url}/services/dashboards/metrics", timeout=15,
                              headers={"Authorization": f"Bearer {platform.metrics_token}"})
    except requests.RequestException as exc:
        return None, None, str(exc)
    up = re.search(r"^reprotech_db_up (\S+)$", answer.text, re.M)
    return answer.status_code, float(up.group(1)) if up else None, ""


def _sign_in(platform: Platform, username: str = "mh-a-user") -> tuple[int, str]:
    from tests.hub.test_hub import sign_in

    _, answer = sign_in(platform.hub, username)
    return answer.status_code, answer.text


def test_pgbouncer_restarted_under_load_fails_requests_cleanly_and_recovers(platform):
    ids = platform.enqueue(4, sleep_s=0.5)
    samples: list[tuple[float, int | None, float | None, str]] = []
    stop = threading.Event()

    def load() -> None:  # a scraper hammering the dashboards, which query through PgBouncer
        while not stop.is_set():
            began = time.monotonic()
            status, up, error = _scrape(platform)
            samples.append((time.monotonic() - began, status, up, error))
            stop.wait(0.1)

    scraper = threading.Thread(target=load, daemon=True)
    scraper.start()
    try:
        wait_for(lambda: any(s[2] == 1.0 for s in samples), 30, what="a healthy scrape")
        platform.bouncer.stop()
        down_at = len(samples)
        wait_for(lambda: any(s[2] == 0.0 for s in samples[down_at:]), 30,
                 what="the scrape reporting the database down")
        status, page = _sign_in(platform)  # a sign-in while the pooler is away
        assert status == 503, (status, page[-2000:])
        assert "database" in page and "try again" in page
        secret = make_url(platform.hub_env["REPROTECH_DATABASE_URL"]).password
        assert "Traceback" not in page and secret not in page
        platform.bouncer.start()
        up_at = len(samples)
        wait_for(lambda: any(s[2] == 1.0 for s in samples[up_at:]), 60,
                 what="the scrape recovering")
        assert _sign_in(platform)[0] == 302  # sign-in works again
        wait_for(lambda: all(r.status == "succeeded" for r in platform.runs(ids).values()),
                 180, 0.5, "the runs queued across the restart succeeding")
    finally:
        stop.set()
        scraper.join(30)
    # Clean failures: every request answered in time, HTTP 200 with db_up 0 (never a hang, a
    # 5xx from the proxy or a dropped connection), and the workers recorded each run once.
    assert all(s[1] == 200 and s[2] in (0.0, 1.0) for s in samples), samples
    assert max(s[0] for s in samples) < 15
    assert platform.markers(ids) == sorted(ids)
    assert platform.dashboards.process.poll() is None and all(
        w.process.poll() is None for w in platform.workers.values())


def test_a_lost_worker_host_has_its_run_retried_on_the_other_and_recorded_once(platform):
    [run_id] = platform.enqueue(1, sleep_s=5.0)
    names = {f"{n}@{HOSTS[n]}": n for n in platform.workers}
    with Owners(platform, [run_id]) as owners:
        holder = wait_for(lambda: owners.seen[run_id] and owners.seen[run_id][0], 60,
                          what="a worker taking the run")
        lost = platform.workers[names[holder]]
        # the host goes away while the notebook runs: every process of that worker, the
        # notebook's runner and kernel included
        doomed = wait_for(lambda: len(d := descendants(lost.process.pid)) > 2 and d, 60,
                          what="the lost host's notebook process and kernel starting")
        os.killpg(lost.process.pid, signal.SIGKILL)
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        lost.process.wait()
        wait_for(lambda: not any(alive(p) for p in doomed), 10, what="the lost host's processes")
        killed_at = time.monotonic()
        wait_for(lambda: len(owners.seen[run_id]) == 2, 60, 0.1, "the other host taking over")
        took_over = time.monotonic() - killed_at
        wait_for(lambda: platform.runs([run_id])[run_id].status == "succeeded", 120, 0.5,
                 "the run succeeding on the other host")
        done = time.monotonic() - killed_at
    run = platform.runs([run_id])[run_id]
    assert run.attempts == 2 and run.status == "succeeded"
    assert owners.seen[run_id] == [holder, next(n for n in names if n != holder)]
    assert platform.markers([run_id]) == [run_id]  # the lost attempt never got that far
    assert took_over >= LEASE_S / 2  # not before the lease (renewed every third) expired
    print(f"\nlost worker host: run {run_id} taken over {took_over:.1f} s and done "
          f"{done:.1f} s after the kill (lease {LEASE_S} s)")
