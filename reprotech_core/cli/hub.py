"""``reprotech hub``: JupyterHub with its proxy and services, in the foreground or as a daemon.

``reprotech hub`` runs the hub in the foreground (Ctrl-C stops it, its proxy and services).
``start`` runs the same in the background — what ``reprotech up`` ends with, so the main job
leaves the platform running without holding the terminal — and ``stop`` / ``status`` find it
again by the pid file in the hub's state folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import typer
from rich.console import Console

from reprotech_core.cli import context
from reprotech_core.settings import PROJECT_HOME, Settings

app = typer.Typer(
    help="JupyterHub and its proxy (foreground without a subcommand).",
    invoke_without_command=True,
)
console = Console()
err = Console(stderr=True)

CONFIG = PROJECT_HOME / "hub" / "jupyterhub_config.py"


def _pid_file(settings: Settings) -> Path:
    return settings.hub_dir / "hub.pid"


def log_file(settings: Settings) -> Path:
    return settings.hub_dir / "hub.log"


def _command(settings: Settings) -> list[str]:
    if not os.access(settings.proxy_command, os.X_OK):
        err.print(f"configurable-http-proxy not found at {settings.proxy_command}: "
                  "run `./run up` (it installs it from npm) or set hub_proxy_command")
        raise typer.Exit(1)
    binary = Path(sys.executable).with_name("jupyterhub")
    settings.hub_dir.mkdir(parents=True, exist_ok=True)
    return [str(binary), "-f", str(CONFIG)]


def answers(settings: Settings) -> bool:
    """Whether a hub answers at ``hub_bind_url``."""
    try:
        return requests.get(f"{settings.hub_bind_url.rstrip('/')}/hub/api", timeout=2).ok
    except requests.RequestException:
        return False


def running_pid(settings: Settings) -> int | None:
    """The pid of the hub this command started in the background, if it is still alive."""
    try:
        pid = int(_pid_file(settings).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start(settings: Settings, *, timeout: float = 180) -> int:
    """Start the hub in its own session, wait until it answers, return its pid."""
    pid = running_pid(settings)
    if pid is not None and answers(settings):
        return pid
    command = _command(settings)
    with log_file(settings).open("ab") as log:
        proc = subprocess.Popen(command, cwd=settings.hub_dir, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file(settings).read_text(errors="replace")[-2000:]
            err.print(f"the hub exited with status {proc.returncode}; its log "
                      f"({log_file(settings)}) ends:\n{tail}")
            raise typer.Exit(1)
        if answers(settings):
            return proc.pid
        time.sleep(0.5)
    stop(settings)
    err.print(f"the hub did not answer at {settings.hub_bind_url} within {timeout:.0f} s; "
              f"see {log_file(settings)}")
    raise typer.Exit(1)


def stop(settings: Settings, *, timeout: float = 60) -> bool:
    """Stop the background hub (its proxy and services stop with it); False if none ran."""
    pid = running_pid(settings)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.3)
    else:
        os.killpg(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    return True


@app.callback()
def foreground(ctx: typer.Context) -> None:
    """Run JupyterHub and its proxy with the platform's configuration (Ctrl-C stops them)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = context.settings()
    command = _command(settings)
    os.chdir(settings.hub_dir)
    os.execv(command[0], command)


@app.command("start")
def start_command() -> None:
    """Start the hub in the background (log in the hub folder); wait until it answers."""
    settings = context.settings()
    pid = start(settings)
    console.print(f"[bold]hub[/] running at {settings.public_base} (pid {pid}, log "
                  f"{log_file(settings)}); stop it with `reprotech hub stop`")


@app.command("stop")
def stop_command() -> None:
    """Stop the background hub, its proxy, services and users' servers."""
    settings = context.settings()
    console.print("hub stopped" if stop(settings) else "no background hub is running")


@app.command("status")
def status_command() -> None:
    """Whether the hub runs and answers."""
    settings = context.settings()
    pid = running_pid(settings)
    ok = answers(settings)
    console.print(f"hub at {settings.public_base}: "
                  f"{'answering' if ok else 'not answering'}"
                  f"{f' (background pid {pid})' if pid else ''}")
    if not ok:
        raise typer.Exit(1)
