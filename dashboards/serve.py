"""The shared dashboard service: one Panel server for every dashboard user, signed in by the hub.

The hub starts this as its managed service ``dashboards`` (``hub/services.py``) and routes
``/services/dashboards/`` to it. Users sign in through the hub's OAuth (Panel's generic OAuth
provider pointed at the hub's endpoints, scope ``identify``); the hub username is the only thing
taken from the sign-in. Role and customer are then read from the platform database
(``Database.identity``), and every query a page makes runs as that identity under row security,
so no URL or widget can name another customer into view.

Run alone (without a hub) it refuses to start: there would be no one to sign users in.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from urllib.parse import urlparse

import panel as pn

from dashboards import metrics
from dashboards.pages import PageContext
from hub.secrets import secret_file
from hub.services import dashboards_redirect_uri
from reprotech_core.db.session import Database, get_database
from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.ops.logs import configure_logging
from reprotech_core.settings import Settings, get_settings

log = logging.getLogger("reprotech.dashboards")

REFUSED = (
    "Your account cannot open the Reprotech dashboards (it is unknown or deactivated). "
    "Ask your administrator."
)


def _fernet_key(secret_hex: str) -> str:
    """A Fernet key (what Panel encrypts its OAuth tokens with) derived from a stored secret."""
    return base64.urlsafe_b64encode(hashlib.sha256(bytes.fromhex(secret_hex)).digest()).decode()


def session_view(database: Database, settings: Settings) -> pn.viewable.Viewable:
    """The page tree for the user of the current browser session."""
    from dashboards.app import build_app

    username = pn.state.user
    try:
        identity = database.identity(username)
    except (NotFound, PermissionDenied):
        log.info("dashboard refused for %r", (username or "")[:32])
        return pn.pane.Alert(REFUSED, alert_type="danger")
    return build_app(PageContext(database=database, identity=identity, settings=settings))


def hub_oauth(settings: Settings, env: dict[str, str]) -> dict:
    """Panel's OAuth settings for the hub that started this service (its ``JUPYTERHUB_*``)."""
    missing = [k for k in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_URL",
                           "JUPYTERHUB_SERVICE_PREFIX")
               if not env.get(k)]
    if missing:
        raise SystemExit(
            f"the dashboard service runs under the hub (missing {', '.join(missing)}); "
            "start the hub with `reprotech hub`"
        )
    api = env["JUPYTERHUB_API_URL"].rstrip("/")
    public = settings.hub_bind_url.rstrip("/")
    secret = secret_file(settings.secrets_dir / "dashboards_cookie_secret")
    return {
        "prefix": env["JUPYTERHUB_SERVICE_PREFIX"].rstrip("/"),
        "oauth_provider": "generic",
        "oauth_key": env["JUPYTERHUB_CLIENT_ID"],
        "oauth_secret": env["JUPYTERHUB_API_TOKEN"],
        "oauth_redirect_uri": dashboards_redirect_uri(settings),
        "oauth_extra_params": {
            "AUTHORIZE_URL": f"{public}/hub/api/oauth2/authorize",
            "TOKEN_URL": f"{api}/oauth2/token",
            "USER_URL": f"{api}/user",
            "USER_KEY": "name",
            "scope": ["identify"],
        },
        "cookie_secret": secret,
        "cookie_path": env["JUPYTERHUB_SERVICE_PREFIX"],
        "oauth_encryption_key": _fernet_key(secret),
        "websocket_origin": [urlparse(public).netloc],
    }


def main() -> None:
    settings = get_settings()
    configure_logging(settings, level="INFO")  # secrets scrubbed; JSON when log_format = json
    options = hub_oauth(settings, dict(os.environ))
    database = get_database()
    metrics.install(database, secret_file(settings.secrets_dir / "metrics_token"))
    pn.config.oauth_expiry = settings.dashboards_session_hours / 24
    pn.config.nthreads = 4  # callbacks in threads: one user's slow query never stalls another
    pn.extension("tabulator", notifications=True, design="bootstrap")
    pn.serve(
        {"/": lambda: session_view(database, settings)},
        address="127.0.0.1",
        port=settings.dashboards_port,
        num_procs=settings.dashboards_processes,
        show=False,
        title="Reprotech Analytics",
        extra_patterns=metrics.routes(),
        liveness="health",
        **options,
    )


if __name__ == "__main__":
    main()
