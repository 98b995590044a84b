"""JupyterHub configuration of the Reprotech platform: declarative, read from the settings.

Run: ``reprotech hub`` (or ``jupyterhub -f hub/jupyterhub_config.py``). Every value comes from
``reprotech_core.settings`` (docs/settings.md); the logic lives in ``hub/`` and
``reprotech_core``. See docs/hub.md for sign-in, spawning and production notes.
"""

# ruff: noqa: F821 (``c`` and ``get_config`` are provided by JupyterHub)
import os
import sys
from pathlib import Path


from hub.auth import configure_oidc
from hub.kernel import install_kernel_spec
from hub.services import landing_url, services
from hub.system_accounts import open_the_way_to
from reprotech_core.hub_services import secret_file, shared_secret
from reprotech_core.ops.logs import traitlets_logging_config
from reprotech_core.ops.private_files import protect_data_dir, use_private_umask
from reprotech_core.settings import get_settings

settings = get_settings()
c = get_config()
# Files of the hub and of the services it starts are the platform's own (umask 077); users'
# notebook accounts may pass through <data_dir> to their homes and read nothing else.
use_private_umask()
protect_data_dir(settings)
settings.hub_dir.mkdir(parents=True, exist_ok=True)

# Network: the proxy is the one entry point for browsers; the hub API where services reach it
# (loopback by default); the proxy API on the hub's own address (docs/operations.md).
c.JupyterHub.bind_url = settings.hub_bind_url
if settings.public_url:  # what browsers open (redirects, links); the bind address is not it
    c.JupyterHub.public_url = settings.public_url + "/"
c.JupyterHub.hub_ip = settings.hub_api_bind
c.JupyterHub.hub_port = settings.hub_api_port
c.JupyterHub.hub_connect_url = settings.hub_api_reach_url
c.ConfigurableHTTPProxy.api_url = f"http://{settings.hub_local_ip}:{settings.hub_proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(settings.proxy_command)]
c.ConfigurableHTTPProxy.auth_token = secret_file(settings.secrets_dir / "hub_proxy_token")
c.ConfigurableHTTPProxy.pid_file = str(settings.hub_dir / "proxy.pid")
if settings.hub_ssl_cert and settings.hub_ssl_key:
    c.JupyterHub.ssl_cert = str(settings.hub_ssl_cert)
    c.JupyterHub.ssl_key = str(settings.hub_ssl_key)

# State and secrets (generated once, 0600).
c.JupyterHub.cookie_secret = bytes.fromhex(secret_file(settings.secrets_dir / "hub_cookie_secret"))
c.CryptKeeper.keys = [bytes.fromhex(secret_file(settings.secrets_dir / "hub_crypt_key"))]
c.JupyterHub.db_url = f"sqlite:///{settings.hub_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.pid_file = str(settings.hub_dir / "jupyterhub.pid")
c.JupyterHub.log_level = settings.log_level
c.JupyterHub.cookie_max_age_days = settings.hub_session_hours / 24  # session timeout
# Tokens the hub's OAuth gives the dashboards last no longer than the sign-in; signing out
# revokes them, which ends the dashboard session too (dashboards/session.py).
c.JupyterHub.oauth_token_expires_in = int(settings.hub_session_hours * 3600)
c.JupyterHub.tornado_settings = {"cookie_options": {
    "samesite": "Lax", **({"secure": True} if settings.public_is_https else {})
}}
c.JupyterHub.logging_config = traitlets_logging_config(settings)  # secrets scrubbed; JSON option

# Sign-in: role and customer travel as hub groups (hub/groups.py).
c.Authenticator.manage_groups = True
c.Authenticator.enable_auth_state = True
if settings.hub_authenticator == "local":
    c.JupyterHub.authenticator_class = "hub.auth.ReprotechAuthenticator"
    c.Authenticator.allow_all = True  # the platform users table decides who exists
    c.ReprotechAuthenticator.require_staff_totp = settings.hub_staff_totp_required
    # The sign-in page links "Forgot your password?"; the password pages' form (hub/passwords.py).
    c.JupyterHub.template_paths = [str(Path(__file__).resolve().parent / "templates")]
else:
    # Production: OIDC (oauthenticator's GenericOAuthenticator, hub/auth.py). The identity
    # provider's groups claim must hold `reprotech-role-<role>` matching the user's role in the
    # platform database; the hub groups (role, customer) are then taken from the database.
    configure_oidc(c, settings)  # shared with the Kubernetes deployment (hub/kube.py)

# Services (hub/services.py): the shared dashboards, the job scheduler and workers, the idle
# culler, and a metrics token for Prometheus (hub metrics at /hub/metrics need it).
c.JupyterHub.services, c.JupyterHub.load_roles = services(
    settings, shared_secret(settings, "metrics_token")
)
c.JupyterHub.default_url = landing_url  # customers, vets, technicians land on the dashboards
c.JupyterHub.authenticate_prometheus = True
c.JupyterHub.shutdown_on_logout = False

# Spawning by role (hub/spawner.py): each user's server as their own system account with a
# private home (IsolatedSpawner), unless isolation is switched off on a development machine.
# Users cannot change their server's environment; it keeps nothing of the hub's but these.
install_kernel_spec()
spawner = "IsolatedSpawner" if settings.hub_notebook_isolation else "RoleSpawner"
c.JupyterHub.spawner_class = f"hub.spawner.{spawner}"
if settings.hub_notebook_isolation:
    if os.geteuid() == 0:  # the accounts must run the platform's Python, wherever it lives
        for program in (Path(sys.executable), Path(sys.executable).parent / "jupyterhub-singleuser"):
            for folder in open_the_way_to(program):
                print(f"[reprotech] notebook accounts may now pass through {folder} (o+x)",
                      file=sys.stderr)
    c.IsolatedSpawner.account_prefix = settings.hub_account_prefix
    c.IsolatedSpawner.homes_root = str(settings.homes_dir)
else:
    c.RoleSpawner.home_dir_template = str(settings.homes_dir / "{username}")
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL"]
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.disable_user_config = True
c.Spawner.start_timeout = settings.hub_spawn_timeout
c.Spawner.http_timeout = settings.hub_spawn_timeout
c.Spawner.ip = settings.hub_local_ip  # servers run on the hub's machine, next to its proxy
c[spawner].db_host = settings.db_host
c[spawner].db_port = str(settings.db_port)
c[spawner].db_name = settings.db_name
c[spawner].platform_env = {
    "REPROTECH_DB_HOST": settings.db_host,
    "REPROTECH_DB_PORT": settings.db_port,
    "REPROTECH_DB_NAME": settings.db_name,
    "REPROTECH_DATA_DIR": str(settings.var_dir),  # where the research store is; no secrets
    "REPROTECH_HUB_URL": settings.public_base,
}
