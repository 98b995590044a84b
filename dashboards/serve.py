"""The shared dashboard service: one Panel server for every dashboard user, signed in by the hub.

The hub starts this as its managed service ``dashboards`` (``hub/services.py``) and routes
``/services/dashboards/`` to it. Users sign in through the hub's OAuth (Panel's generic OAuth
provider pointed at the hub's endpoints, scope ``identify``); the hub username is the only thing
taken from the sign-in. Role and customer are then read from the platform database
(``Database.identity``), and every query a page makes runs as that identity under row security,
so no URL or widget can name another customer into view.

Sessions end with the hub session (``dashboards/session.py``), and every response carries a
Content-Security-Policy that allows this origin only (no third-party fonts or scripts, no
framing by other sites) and ``X-Content-Type-Options: nosniff``.

Run alone (without a hub) it refuses to start: there would be no one to sign users in.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from urllib.parse import urlparse

import panel as pn
from tornado import httputil
from tornado.web import OutputTransform

from dashboards import metrics
from dashboards.app import build_app, warm_up
from dashboards.pages import PageContext
from dashboards.session import (
    HubLogoutHandler,
    HubSessionProvider,
    HubSessions,
    _CookieRules,
    end_with_the_hub_session,
)
from reprotech_core.db.session import Database, get_database
from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.hub_services import dashboards_redirect_uri, shared_secret
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


def content_security_policy(public_url: str) -> str:
    """This origin only: Bokeh's documents need inline scripts and ``eval`` (CustomJS), its
    websocket the same host; nothing from other hosts, and no framing by other sites."""
    host = urlparse(public_url).netloc
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def security_headers(policy: str) -> type[OutputTransform]:
    """A tornado transform adding the headers to every response of the service (Bokeh's
    handlers are many classes of its own; a transform reaches them all)."""

    class SecurityHeaders(OutputTransform):
        def transform_first_chunk(self, status_code: int, headers: httputil.HTTPHeaders,
                                  chunk: bytes, finishing: bool
                                  ) -> tuple[int, httputil.HTTPHeaders, bytes]:
            headers["Content-Security-Policy"] = policy
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Referrer-Policy"] = "same-origin"
            return status_code, headers, chunk

    return SecurityHeaders


def session_view(database: Database, settings: Settings, sessions: HubSessions,
                 logout_path: str) -> pn.viewable.Viewable:
    """The page tree for the user of the current browser session."""
    if settings.dashboards_session_check_seconds:
        end_with_the_hub_session(sessions, logout_path, settings.dashboards_session_check_seconds)
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
    public = settings.public_base
    secret = shared_secret(settings, "dashboards_cookie_secret")
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


def hub_session_provider(settings: Settings, env: dict[str, str]) -> HubSessionProvider:
    """Panel's OAuth provider for the hub, checking each request against the hub session."""
    _CookieRules.secure = settings.public_is_https
    HubLogoutHandler.hub_logout_url = "/hub/logout"
    provider = HubSessionProvider(login_endpoint="/login", logout_endpoint="/logout")
    provider.sessions = HubSessions(env["JUPYTERHUB_API_URL"],
                                    settings.dashboards_session_check_seconds)
    return provider


def main() -> None:
    settings = get_settings()
    configure_logging(settings, level="INFO")  # secrets scrubbed; JSON when log_format = json
    options = hub_oauth(settings, dict(os.environ))
    database = get_database()
    metrics.install(database, shared_secret(settings, "metrics_token"))
    pn.config.oauth_expiry = settings.dashboards_session_hours / 24
    pn.config.nthreads = 4  # callbacks in threads: one user's slow query never stalls another
    pn.config.oauth_provider = options.pop("oauth_provider")  # served by our provider
    provider = hub_session_provider(settings, dict(os.environ))
    logout = f"{options['prefix']}/logout"
    pn.extension("tabulator", notifications=True, design="bootstrap")
    warm_up()
    server = pn.serve(
        {"/": lambda: session_view(database, settings, provider.sessions, logout)},
        address=settings.dashboards_bind,
        port=settings.dashboards_port,
        num_procs=settings.dashboards_processes,
        show=False,
        start=False,
        title="Reprotech Analytics",
        extra_patterns=metrics.routes(),
        liveness="health",
        auth_provider=provider,
        **options,
    )
    server._tornado.add_transform(security_headers(content_security_policy(settings.public_base)))
    server.start()
    server.io_loop.start()


if __name__ == "__main__":
    main()
