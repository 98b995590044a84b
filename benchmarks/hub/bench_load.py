"""Load test of the hub on this machine: customer sign-ins, dashboard sessions, researcher servers.

Everything runs on 127.0.0.1 against a throwaway platform (embedded PostgreSQL, the real hub
with its proxy and the shared dashboard service, started like ``reprotech up`` does):

1. ``--customers`` customer accounts (one farm each, a few animals) sign in over HTTP through
   the hub's login form and follow the hub OAuth into the dashboard service, ``--http-workers``
   at a time: sign-in time (the form post, password hash included) and landing time (until the
   dashboard document answers).
2. ``--sessions`` of them open the dashboards in headless Chromium, ``--arriving`` signing in
   at the same moment, and all stay open together: time from the sign-in click until the page
   shows the signed-in user (the Panel document rendered over its websocket).
3. With those sessions open, ``--researchers`` researchers (TOTP) sign in and spawn JupyterLab
   at once: time until the server answers through the proxy.

A sampler sums the proportional set size (PSS) of the hub, proxy, services, spawned servers,
PostgreSQL and Chromium every 0.5 s; the peak is reported. Results go to stdout and to
``--out`` as JSON. Run it alone, under the benchmark lock:

    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/hub/bench_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pyotp
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.migrate import app_url
from reprotech_core.db.scratch import free_port, scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.settings import PROJECT_HOME, Settings
from reprotech_core.signin import enrol_totp

PASSWORD = secrets.token_urlsafe(16)  # fresh per run: the accounts live only as long as it
XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')
CHROMIUM = "/usr/bin/chromium"


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50": round(q[49], 3), "p95": round(q[94], 3),
            "max": round(ordered[-1], 3)}


# Memory ------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(roots: list[int]) -> set[int]:
    tree, seen, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(tree.get(pid, []))
    return seen


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Peak summed PSS of the process trees under ``roots`` (callable: the roots change)."""

    def __init__(self, roots) -> None:
        super().__init__(daemon=True)
        self.roots, self.peak_kib, self.stop = roots, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = sum(_pss_kib(pid) for pid in _descendants(self.roots()))
            self.peak_kib = max(self.peak_kib, total)
            self.stop.wait(0.5)


# Platform ----------------------------------------------------------------------------------
def populate(settings: Settings, customers: int, researchers: int) -> dict[str, str]:
    """Customer farms with one user and three animals each; researchers with TOTP."""
    db = Database(app_url(settings))
    system = db.identity("system")
    totp: dict[str, str] = {}
    with db.session(system) as s:
        for i in range(customers):
            c = accounts.create_customer(s, code=f"load{i:03d}", name=f"Load farm {i:03d}")
            accounts.create_herd(s, customer=c, code=f"load{i:03d}-h", name="Main")
            register_animals(s, c, [
                AnimalRecord(f"L{i:03d}-{k}", "Holstein", "F", date(2020, 1, 1), herd_code=f"load{i:03d}-h")
                for k in range(3)])
            accounts.create_user(s, accounts.NewUser(f"cust{i:03d}", f"Customer {i}",
                                                     "customer_user", f"load{i:03d}",
                                                     password=PASSWORD))
        for i in range(researchers):
            name = f"res{i:02d}"
            accounts.create_user(s, accounts.NewUser(name, name, "researcher", password=PASSWORD))
            totp[name] = pyotp.parse_uri(enrol_totp(s, name)).secret
    db.dispose()
    return totp


def hub_environment(settings: Settings) -> dict[str, str]:
    port = free_port()
    for folder in ("config", "notebooks"):
        link = settings.home / folder
        if not link.exists():
            link.symlink_to(PROJECT_HOME / folder)
    return {
        "REPROTECH_HOME": str(settings.home), "REPROTECH_DATA_DIR": str(settings.var_dir),
        "REPROTECH_DB_PORT": str(settings.db_port),
        "REPROTECH_HUB_BIND_URL": f"http://127.0.0.1:{port}",
        "REPROTECH_HUB_API_PORT": str(free_port()),
        "REPROTECH_HUB_PROXY_API_PORT": str(free_port()),
        "REPROTECH_DASHBOARDS_PORT": str(free_port()),
        "REPROTECH_HUB_JOBS_SERVICE": "false",
    }


# Phases ------------------------------------------------------------------------------------
def http_sign_in(url: str, username: str, otp: str | None = None) -> tuple[requests.Session, float]:
    browser = requests.Session()
    page = browser.get(f"{url}/hub/login", timeout=120)
    form = {"username": username, "password": PASSWORD, "_xsrf": XSRF.search(page.text).group(1)}
    if otp:
        form["otp"] = otp
    t0 = time.perf_counter()
    answer = browser.post(f"{url}/hub/login", data=form, allow_redirects=False, timeout=120)
    took = time.perf_counter() - t0
    if answer.status_code != 302:
        raise RuntimeError(f"{username}: sign-in answered {answer.status_code}")
    return browser, took


def customer_http(url: str, username: str) -> tuple[float, float]:
    browser, sign_in = http_sign_in(url, username)
    t0 = time.perf_counter()
    page = browser.get(f"{url}/services/dashboards/", timeout=120)
    if page.status_code != 200 or "/services/dashboards/" not in page.url:
        raise RuntimeError(f"{username}: dashboards answered {page.status_code} at {page.url}")
    return sign_in, time.perf_counter() - t0


async def browser_sessions(url: str, usernames: list[str], hold: float,
                           arriving: int) -> tuple[list[float], int]:
    """Sign ``usernames`` in, ``arriving`` at a time, and keep every session open together."""
    from playwright.async_api import async_playwright

    gate = asyncio.Semaphore(arriving)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-dev-shm-usage"])

        async def one(username: str) -> float:
            async with gate:
                context = await browser.new_context()
                context.set_default_timeout(180_000)
                page = await context.new_page()
                await page.goto(f"{url}/hub/login", wait_until="domcontentloaded")
                await page.fill("input[name=username]", username)
                await page.fill("input[name=password]", PASSWORD)
                t0 = time.perf_counter()
                await page.click("input[type=submit], button[type=submit]")
                await page.get_by_text(f"{username} · customer_user").wait_for()
                return time.perf_counter() - t0

        results = await asyncio.gather(*(one(u) for u in usernames), return_exceptions=True)
        await asyncio.sleep(hold)  # every session open at once while the researchers spawn
        await browser.close()
    times = [r for r in results if isinstance(r, float)]
    for r in results:
        if not isinstance(r, float):
            print(f"  session error: {r!r}"[:300], file=sys.stderr)
    return times, len(results) - len(times)


def researcher_spawn(url: str, username: str, secret: str) -> float:
    browser, _ = http_sign_in(url, username, pyotp.TOTP(secret).now())
    t0 = time.perf_counter()
    browser.get(f"{url}/hub/spawn", timeout=300)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        lab = browser.get(f"{url}/user/{username}/lab", timeout=60)
        if lab.status_code == 200 and lab.url.endswith(f"/user/{username}/lab"):
            return time.perf_counter() - t0
        time.sleep(0.5)
    raise RuntimeError(f"{username}: server not ready in 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--researchers", type=int, default=10)
    parser.add_argument("--http-workers", type=int, default=20)
    parser.add_argument("--arriving", type=int, default=10,
                        help="browser sessions signing in at the same moment")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "hub-load.json")
    args = parser.parse_args()

    from reprotech_core.cli import hub as hub_cli

    report: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}}
    with scratch_platform() as base:
        t0 = time.perf_counter()
        totp = populate(base, args.customers, args.researchers)
        report["populate_s"] = round(time.perf_counter() - t0, 1)
        os.environ.update(hub_environment(base))
        settings = Settings()
        url = settings.hub_bind_url
        postmaster = int((settings.pg_data_dir / "postmaster.pid").read_text().split()[0])
        hub_pid = hub_cli.start(settings)
        sampler = MemorySampler(lambda: [hub_pid, postmaster, os.getpid()])
        sampler.start()
        try:
            print(f"hub at {url}; {args.customers} customer sign-ins…", file=sys.stderr)
            errors, sign_ins, landings = 0, [], []
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.http_workers) as pool:
                futures = [pool.submit(customer_http, url, f"cust{i:03d}")
                           for i in range(args.customers)]
                for f in futures:
                    try:
                        s, landing = f.result()
                        sign_ins.append(s)
                        landings.append(landing)
                    except Exception as exc:  # noqa: BLE001 (counted and shown, the run goes on)
                        errors += 1
                        print(f"  error: {exc}"[:300], file=sys.stderr)
            report["customer_http"] = {"wall_s": round(time.perf_counter() - t0, 1),
                                       "sign_in_s": percentiles(sign_ins),
                                       "dashboard_landing_s": percentiles(landings),
                                       "errors": errors}
            print(f"{args.sessions} browser sessions + {args.researchers} researchers…",
                  file=sys.stderr)
            spawns, spawn_errors = [], 0

            def researchers() -> None:
                nonlocal spawn_errors
                time.sleep(5)
                with ThreadPoolExecutor(args.researchers) as pool:
                    for f in [pool.submit(researcher_spawn, url, name, secret)
                              for name, secret in totp.items()]:
                        try:
                            spawns.append(f.result())
                        except Exception as exc:  # noqa: BLE001 (counted)
                            spawn_errors += 1
                            print(f"  spawn error: {exc}"[:300], file=sys.stderr)

            spawner = threading.Thread(target=researchers)
            spawner.start()
            users = [f"cust{i:03d}" for i in range(args.sessions)]
            page_loads, session_errors = asyncio.run(
                browser_sessions(url, users, hold=30, arriving=args.arriving))
            spawner.join()
            report["browser_sessions"] = {"page_load_s": percentiles(page_loads),
                                          "errors": session_errors}
            report["researcher_spawn"] = {"spawn_s": percentiles(spawns), "errors": spawn_errors}
        finally:
            sampler.stop.set()
            sampler.join()
            hub_cli.stop(settings)
        report["peak_pss_gib"] = round(sampler.peak_kib / 1024**2, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
