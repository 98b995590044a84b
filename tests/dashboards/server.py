"""A test-only Panel server: the real ``build_app`` with a fixed identity per route.

``python -m tests.dashboards.server PORT USER [USER …]`` serves ``/<user>`` as that user,
with the settings of the environment (``REPROTECH_*``, set by the fixture to the test
platform). This replaces only the hub's sign-in, for tests; the product's service
(``dashboards/serve.py``) has no such route and always signs users in through the hub.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import panel as pn
import requests

from dashboards.app import build_app, warm_up
from dashboards.pages import PageContext
from reprotech_core.db.scratch import free_port
from reprotech_core.db.session import get_database
from reprotech_core.settings import PROJECT_HOME, Settings, get_settings


def view_of(username: str):  # noqa: ANN201
    """A session factory (a plain function: ``pn.serve`` renders a ``partial`` as text)."""

    def view():  # noqa: ANN202
        database = get_database()
        return build_app(PageContext(database=database, identity=database.identity(username),
                                     settings=get_settings()))

    return view


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port, users = int(argv[0]), argv[1:]
    pn.config.nthreads = 4
    pn.extension("tabulator", notifications=True, design="bootstrap")
    warm_up()  # as the service does
    pn.serve({f"/{u}": view_of(u) for u in users}, address="127.0.0.1", port=port,
             num_procs=get_settings().dashboards_processes,  # as the service, dashboards/serve.py
             show=False, title="Reprotech Analytics (test)", liveness="health",
             websocket_origin=[f"127.0.0.1:{port}"])



@dataclass(frozen=True)
class PortalServer:
    url: str
    log: Path
    pid: int = 0

    def of(self, user: str, query: str = "") -> str:
        return f"{self.url}/{user}" + (f"?{query}" if query else "")


def server_env(settings: Settings, processes: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(settings.home), REPROTECH_DATA_DIR=str(settings.var_dir),
               REPROTECH_DB_PORT=str(settings.db_port),
               REPROTECH_DASHBOARDS_PROCESSES=str(processes))
    return env


@contextmanager
def running_server(settings: Settings, users: tuple[str, ...], log: Path, *,
                   processes: int = 1) -> Iterator[PortalServer]:
    """The test server for ``users``; ``processes`` > 1 forks that many serving processes
    (Bokeh's ``num_procs``, the service's ``dashboards_processes``) behind one port."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.dashboards.server", str(port),
                                 *users], cwd=PROJECT_HOME, env=server_env(settings, processes),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"test dashboard server exited: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"test dashboard server did not start: {log}")
            time.sleep(0.3)
        yield PortalServer(url, log, proc.pid)
    finally:
        _signal_group(proc, signal.SIGTERM)  # the forked serving processes too
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # its own session (start_new_session): only the server's
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
