"""The services the hub starts, stops and routes to, and where each role lands after sign-in.

- ``dashboards``: the shared Panel service (``dashboards/serve.py``) every customer and the
  dashboard-using staff work in; it signs users in through the hub's OAuth, so the hub routes
  ``/services/dashboards/`` to it and it knows users only by their hub identity (its name,
  prefix, redirect URI and the metrics token are in ``reprotech_core/hub_services.py``, which
  both sides import).
- ``jobs``: the job scheduler and workers (``reprotech jobs serve``), so lab batches run while
  the hub runs; labs without a hub run the same command alone.
- ``idle-culler``: jupyterhub-idle-culler, stopping personal servers left idle (unless the
  deployment culls already: ``hub_idle_culler = false``).
- ``prometheus``: no process, only a token with ``read:metrics`` for the scraper, which the
  dashboard service accepts for its own metrics too.

Managed services get the hub's ``REPROTECH_*`` variables (they are platform code, unlike users'
servers, which get none of them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hub.groups import role_of
from reprotech_core.hub_services import (
    DASHBOARDS,
    dashboards_prefix,
    dashboards_redirect_uri,
    shared_secret,
)
from reprotech_core.roles import Role
from reprotech_core.settings import Settings

DASHBOARD_ROLES = frozenset({Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER, Role.VETERINARIAN,
                             Role.TECHNICIAN})
"""Roles whose home is the dashboard service (they get no personal server)."""


def platform_environment() -> dict[str, str]:
    """The hub's own platform settings, handed to the services it manages."""
    keep = ("REPROTECH_", "PATH", "LANG", "LC_ALL", "HOME", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if k.startswith(keep)}


def services(settings: Settings, metrics_token: str) -> tuple[list[dict], list[dict]]:
    """The hub's ``services`` and the ``load_roles`` giving them their scopes."""
    bin_dir = Path(sys.executable).parent
    env = platform_environment()
    dashboards: dict = {
        "name": DASHBOARDS,
        "url": settings.dashboards_reach_url,
        "oauth_no_confirm": True,
        "oauth_redirect_uri": dashboards_redirect_uri(settings),
        "display": True,
        "info": {"description": "Herd portal and staff dashboards"},
    }
    if settings.dashboards_managed:
        dashboards.update(command=[sys.executable, "-m", "dashboards.serve"], environment=env)
    else:  # runs apart (its own pod): the hub routes to it and knows it by its token
        dashboards["api_token"] = shared_secret(settings, "dashboards_api_token")
    defined = [dashboards, {"name": "prometheus", "api_token": metrics_token}]
    roles = [{"name": "prometheus", "services": ["prometheus"], "scopes": ["read:metrics"]}]
    if settings.hub_idle_culler:
        defined.append({
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                        f"--timeout={settings.hub_cull_idle_seconds}",
                        f"--cull-every={max(60, settings.hub_cull_idle_seconds // 6)}"],
        })
        roles.append({"name": "idle-culler", "services": ["idle-culler"],
                      "scopes": ["list:users", "read:users:activity", "read:servers",
                                 "delete:servers"]})
    if settings.hub_jobs_service:
        defined.append({"name": "jobs", "command": [str(bin_dir / "reprotech"), "jobs", "serve"],
                        "environment": env})
    # Every signed-in user may open the dashboard service; what they see there is decided
    # by their platform role and row security, not by this scope.
    roles.append({"name": "user", "scopes": ["self", f"access:services!service={DASHBOARDS}"]})
    return defined, roles


def landing_url(handler) -> str:  # noqa: ANN001 (JupyterHub handler)
    """Where a user lands after sign-in: dashboard roles on the dashboards, others in the hub."""
    user = handler.current_user
    if user is None:
        return ""
    role = role_of(group.name for group in user.groups)
    return dashboards_prefix() if role in DASHBOARD_ROLES else ""
