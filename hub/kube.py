"""The production spawner on Kubernetes: the platform's per-role rules over KubeSpawner.

Used only by the Zero to JupyterHub deployment (``deploy/k8s/values.yaml`` names it in
``hub.extraConfig``); the embedded hub never imports this module, so ``kubespawner`` (pinned in
``requirements.lock`` and installed in the platform image) is needed only there.

The role decides, as with the local spawners (``hub/spawner.py``): who gets a server, its
memory and CPU limits (which Kubernetes enforces here) and its idle timeouts. The user sees one
profile, their role's, built from the same ``RoleSpawnerMixin`` limits, so the spawn page and
the pod agree. Differences from a local server: the user's home is a volume of their pod, so
the database password travels as ``PGPASSWORD`` in the pod's environment (readable by the user
and by cluster admins only) instead of a pgpass file the hub writes, and the curated notebooks
are read from the image (``/opt/reprotech/notebooks``) rather than copied into the home.
"""

from __future__ import annotations

from typing import Any

from kubespawner import KubeSpawner
from traitlets import default
from traitlets.config import Config

from hub.auth import configure_oidc
from hub.services import landing_url, services
from hub.spawner import RoleSpawnerMixin
from reprotech_core.hub_services import shared_secret
from reprotech_core.ops.logs import traitlets_logging_config
from reprotech_core.settings import Settings, SettingsError


def role_profiles(spawner: ReprotechKubeSpawner) -> list[dict[str, Any]]:
    """One profile, the user's role's (KubeSpawner's ``profile_list`` callable): the limits
    come from the role, never from a choice the user makes."""
    role = spawner.platform_role or ""
    override: dict[str, Any] = {}
    if role in spawner.role_mem_limits:
        override["mem_limit"] = spawner.role_mem_limits[role]
    if role in spawner.role_cpu_limits:
        override["cpu_limit"] = float(spawner.role_cpu_limits[role])
    limits = ", ".join(f"{k.split('_')[0]} {v}" for k, v in override.items()) or "default limits"
    return [{"display_name": f"{role or 'unknown role'} ({limits})", "slug": role or "none",
             "default": True, "kubespawner_override": override}]


class ReprotechKubeSpawner(RoleSpawnerMixin, KubeSpawner):
    """KubeSpawner with the platform's roles (limits enforced by Kubernetes)."""

    _database_password: str | None = None

    @default("profile_list")
    def _role_profile(self) -> Any:
        return role_profiles

    def _seed_notebooks(self, role: str) -> None:
        """The home is a volume of the user's pod, which the hub does not mount: the role's
        notebooks are in the image instead."""

    def _provision_database_login(self) -> tuple[str, None]:
        """Create or rotate the user's own database login; the password goes into the pod's
        environment (``get_env``), since the hub cannot write into the user's volume."""
        from reprotech_core.accounts import provision_db_login
        from reprotech_core.db.migrate import admin_url
        from reprotech_core.db.session import get_database
        from reprotech_core.settings import get_settings

        db = get_database()
        creds = provision_db_login(db, admin_url(get_settings()), db.identity("system"),
                                   self.user.name)
        self._database_password = creds.password
        return creds.login, None

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        if self._database_login and self._database_password:
            env["PGPASSWORD"] = self._database_password
        return env


def configure(c: Config, settings: Settings) -> None:
    """The platform's part of the chart's hub configuration (``hub.extraConfig``), from the
    settings the hub pod gets as ``REPROTECH_*`` variables: the chart owns networking, the
    proxy, the hub database, secrets and the idle culler (``cull``); this sets sign-in, the
    public URL, sessions, the services and the per-role spawner, as ``hub/jupyterhub_config.py``
    does on one machine."""
    if settings.hub_authenticator != "oidc":
        raise SettingsError("hub_authenticator: the Kubernetes deployment signs in through "
                            "OIDC (set REPROTECH_HUB_AUTHENTICATOR=oidc and the "
                            "REPROTECH_HUB_OIDC_* settings)")
    if not settings.public_url:
        raise SettingsError("public_url: the Kubernetes deployment needs the address browsers "
                            "open (REPROTECH_PUBLIC_URL, e.g. https://reprotech.example.org)")
    if settings.dashboards_managed or settings.hub_idle_culler or settings.hub_jobs_service:
        raise SettingsError("dashboards_managed, hub_idle_culler and hub_jobs_service must be "
                            "false on Kubernetes: the dashboards and job workers are their own "
                            "Deployments and the chart's `cull` is the one idle culler")
    c.JupyterHub.public_url = settings.public_url + "/"
    c.JupyterHub.log_level = settings.log_level
    c.JupyterHub.logging_config = traitlets_logging_config(settings)
    c.JupyterHub.cookie_max_age_days = settings.hub_session_hours / 24
    c.JupyterHub.oauth_token_expires_in = int(settings.hub_session_hours * 3600)
    chart_tornado = c.JupyterHub.get("tornado_settings", {})  # the chart sets some: keep them
    c.JupyterHub.tornado_settings = {**chart_tornado, "cookie_options": {
        "samesite": "Lax", **({"secure": True} if settings.public_is_https else {})}}
    c.Authenticator.manage_groups = True
    c.Authenticator.enable_auth_state = True
    configure_oidc(c, settings)
    defined, roles = services(settings, shared_secret(settings, "metrics_token"))
    c.JupyterHub.services.extend(defined)
    c.JupyterHub.load_roles.extend(roles)
    c.JupyterHub.default_url = landing_url
    c.JupyterHub.authenticate_prometheus = True
    c.JupyterHub.shutdown_on_logout = False
    c.JupyterHub.spawner_class = ReprotechKubeSpawner
    c.ReprotechKubeSpawner.profile_list = role_profiles  # over the chart's singleuser.profileList
    c.ReprotechKubeSpawner.db_host = settings.db_host
    c.ReprotechKubeSpawner.db_port = str(settings.db_port)
    c.ReprotechKubeSpawner.db_name = settings.db_name
    c.ReprotechKubeSpawner.platform_env = {
        "REPROTECH_DB_HOST": settings.db_host,
        "REPROTECH_DB_PORT": str(settings.db_port),
        "REPROTECH_DB_NAME": settings.db_name,
        "REPROTECH_HUB_URL": settings.public_base,
    }
