"""One session lifecycle for the hub and the dashboards: signing out of one signs out of both.

Panel's OAuth keeps its own signed cookies for as long as ``dashboards_session_hours``; left
alone it would trust them after the hub session they came from has ended (a farmer signs out of
the hub on a shared office computer, and the portal stays open to the next person). So:

- every request, and every open page at an interval (``dashboards_session_check_seconds``),
  asks the hub whether the OAuth token behind the cookie still stands (``GET /hub/api/user``).
  Signing out of the hub revokes the tokens issued to that browser session, an expired or
  revoked token fails the same way, and the dashboard session then ends: cookies cleared, the
  open page sent to sign-out;
- signing out of the dashboards clears its cookies on the path where they were set (Panel's own
  logout clears them on ``/``, which leaves them in place) and goes on to the hub's sign-out;
- every cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the public URL is https.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable

import panel as pn
from panel.auth import GenericLoginHandler, OAuthProvider
from panel.config import config
from panel.io.state import state
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.web import RequestHandler

log = logging.getLogger("reprotech.dashboards")

PANEL_COOKIES = ("user", "id_token", "access_token", "refresh_token", "oauth_expiry", "state",
                 "code", "is_guest", "next_url")


class HubSessions:
    """Whether hub OAuth tokens still stand, asked of the hub at most every ``ttl`` seconds."""

    def __init__(self, api_url: str, ttl: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.ttl = ttl
        self._answers: dict[str, tuple[float, str | None]] = {}

    async def user_of(self, token: str) -> str | None:
        """The hub username the token belongs to, or ``None`` when it no longer stands."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._answers.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            answer = await AsyncHTTPClient().fetch(
                f"{self.api_url}/user", headers={"Authorization": f"token {token}"},
                request_timeout=10)
            username = json.loads(answer.body)["name"]
        except HTTPClientError as exc:
            if exc.code not in (401, 403):
                log.warning("hub session check failed (HTTP %s): signing the user out", exc.code)
            username = None
        except (OSError, ValueError, KeyError) as exc:  # the hub down: fail closed
            log.warning("hub session check failed (%s): signing the user out", type(exc).__name__)
            username = None
        self._answers = {k: v for k, v in self._answers.items() if now - v[0] < self.ttl}
        self._answers[key] = (now, username)
        return username


def cookie_options(secure: bool) -> dict[str, object]:
    return {"httponly": True, "samesite": "Lax", **({"secure": True} if secure else {})}


class _CookieRules:
    """Cookies of the dashboards: our flags always, on the service's path only."""

    secure = False

    def set_cookie(self, name, value, domain=None, expires=None, path=None,  # noqa: ANN001
                   expires_days=None, **kwargs):  # noqa: ANN001, ANN201 (tornado API)
        kwargs.update(cookie_options(self.secure))
        return super().set_cookie(name, value, domain, expires, path or config.cookie_path,
                                  expires_days, **kwargs)

    def clear_cookie(self, name, **kwargs):  # noqa: ANN001, ANN201 (tornado API)
        kwargs.setdefault("path", config.cookie_path)
        return super().clear_cookie(name, **kwargs)


class HubLoginHandler(_CookieRules, GenericLoginHandler):
    """Panel's generic OAuth login against the hub, with the dashboards' cookie rules."""


class HubLogoutHandler(_CookieRules, RequestHandler):
    """Sign out: clear the dashboards' cookies where they were set, then sign out of the hub."""

    hub_logout_url = "/hub/logout"

    def get(self) -> None:
        for name in PANEL_COOKIES:
            self.clear_cookie(name)
        self.redirect(self.hub_logout_url)


class HubSessionProvider(OAuthProvider):
    """Panel's OAuth provider, with every signed-in request checked against the hub."""

    sessions: HubSessions | None = None

    @property
    def login_handler(self):  # noqa: ANN201 (Panel API)
        handler = super().login_handler
        HubLoginHandler._login_endpoint = handler._login_endpoint
        HubLoginHandler._login_template = handler._login_template
        return HubLoginHandler

    @property
    def logout_handler(self):  # noqa: ANN201 (Panel API)
        return HubLogoutHandler

    @property
    def get_user_async(self) -> Callable:
        panel_get_user = super().get_user_async

        async def get_user(handler: RequestHandler) -> str | None:
            user = await panel_get_user(handler)
            if user is None or self.sessions is None:
                return user
            cookie = handler.get_secure_cookie("access_token", max_age_days=config.oauth_expiry)
            token = state._decrypt_cookie(cookie) if cookie else None
            if token and await self.sessions.user_of(token) == user:
                return user
            log.info("dashboard session of %r ended with its hub session", user[:32])
            for name in PANEL_COOKIES:
                handler.clear_cookie(name, path=config.cookie_path)
            return None

        return get_user


def end_with_the_hub_session(sessions: HubSessions, logout_path: str, period_s: float) -> None:
    """In an open page: when the hub session ends, send the browser to sign-out.

    The page's websocket was authorised once; this keeps asking, so a page left open on a
    shared screen closes within ``period_s`` of the sign-out elsewhere.
    """
    user, token = pn.state.user, pn.state.access_token

    async def check() -> None:
        if token is None or await sessions.user_of(token) != user:
            log.info("open dashboard page of %r closed: hub session ended", (user or "")[:32])
            callback.stop()
            pn.state.location.reload = True
            pn.state.location.pathname = logout_path

    callback = pn.state.add_periodic_callback(check, period=int(period_s * 1000), start=True)
