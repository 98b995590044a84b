"""What the hub and the services it runs must agree on: the dashboard service's name, address
and OAuth redirect URI, and the secret files both read (the Prometheus metrics token).

The hub registers these (``hub/services.py``) and the dashboard service uses them
(``dashboards/serve.py``). They live here, below both, so the dashboard service never imports
the hub's code: it stays a client of the hub, not a part of it (and does not load JupyterHub).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from reprotech_core.settings import Settings, read_secret_file

DASHBOARDS = "dashboards"
"""The shared Panel service's name with the hub (its URL prefix is ``/services/dashboards/``)."""


def dashboards_prefix() -> str:
    return f"/services/{DASHBOARDS}/"


def dashboards_redirect_uri(settings: Settings) -> str:
    """Where the hub sends a signed-in browser back to the dashboards (Panel's login handler).

    Registered with the hub and used by the service: the hub refuses an OAuth request whose
    redirect URI differs.
    """
    return settings.public_base + dashboards_prefix() + "login"


def shared_secret(settings: Settings, name: str) -> str:
    """A secret the hub and its services share (``metrics_token``, ``dashboards_api_token``,
    ``dashboards_cookie_secret``): the setting when given (services in other pods or
    containers must be given the same), else the file generated once under the secrets folder
    (one machine, where every process reads the same folder)."""
    value = getattr(settings, name)
    return value.get_secret_value() if value is not None else secret_file(
        settings.secrets_dir / name)


def secret_file(path: Path, *, nbytes: int = 32) -> str:
    """The hex secret in ``path``, created (mode 0600, parents 0700) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(nbytes))
    return read_secret_file(path, path.name)
