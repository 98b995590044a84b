"""Sign-in for the hub: the platform's local users (embedded default) and OIDC (production).

``ReprotechAuthenticator`` checks username, password and (staff) a one-time code against the
platform users table through ``reprotech_core.signin``, counting failures against the client
address from the socket and trusted proxies only (``source_address``);
``ReprotechOIDCAuthenticator`` signs in through the production identity provider and checks
its role claim against the same table. Either way
the user ends with the groups of ``hub.groups`` (role, customer) and, for admins, hub admin.
"""

from __future__ import annotations

import asyncio
import socket

from jupyterhub.auth import Authenticator
from oauthenticator.generic import GenericOAuthenticator
from sqlalchemy.exc import OperationalError
from tornado import web
from tornado.httputil import HTTPServerRequest
from traitlets import Bool, List, Unicode, default
from traitlets.config import Config

from hub.groups import ROLE_PREFIX, customer_group, role_group
from reprotech_core.client_address import Network, client_address, parse_networks
from reprotech_core.errors import DatabaseError
from reprotech_core.roles import Role
from reprotech_core.settings import Settings

ADMIN_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})
"""Roles that are hub admins too (local sign-in here; OIDC: ``admin_groups`` in the config)."""

UNAVAILABLE = ("Sign-in is unavailable for a moment: the platform's database does not answer. "
               "Please try again in a minute.")
"""What a sign-in gets (HTTP 503) while the database or its pooler is away: nothing is known
about the account, so nothing is counted against it."""


class ReprotechAuthenticator(Authenticator):
    """Local sign-in against the platform users table (Argon2 passwords, TOTP for staff)."""

    request_otp = Bool(
        True,
        help="Show the one-time-code field (staff must fill it).",
    ).tag(config=True)

    require_staff_totp = Bool(
        True,
        help="Refuse staff accounts that have no TOTP second factor enrolled.",
    ).tag(config=True)

    trusted_proxies = List(
        Unicode(),
        help="Reverse proxies in front of the hub's own proxy (addresses or CIDR networks) "
        "whose X-Forwarded-For entries are believed; default: setting hub_trusted_proxies.",
    ).tag(config=True)

    @default("trusted_proxies")
    def _default_trusted_proxies(self) -> list[str]:
        from reprotech_core.settings import get_settings

        settings = get_settings()
        return [*settings.hub_trusted_proxies, *own_proxy_sources(settings)]

    def __init__(self, **kwargs) -> None:  # noqa: ANN003 (traitlets)
        super().__init__(**kwargs)
        # Parsed at start-up, so a bad entry stops the hub with its name, not a sign-in.
        self._trusted_networks = parse_networks(self.trusted_proxies)

    def _database(self):  # the process's Database, created on first sign-in
        from reprotech_core.db.session import get_database

        return get_database()

    def get_handlers(self, app):  # noqa: ANN001, ANN201 (JupyterHub API)
        """The login page plus the password pages (hub/passwords.py): local sign-in owns
        its passwords, so it offers changing and resetting them."""
        from hub.passwords import handlers

        return [*super().get_handlers(app), *handlers()]

    async def authenticate(self, handler, data):  # noqa: ANN001, ANN201 (JupyterHub API)
        from reprotech_core import signin

        username = (data.get("username") or "").strip()
        password = data.get("password") or ""
        if not username or not password:
            return None
        try:
            # Argon2 and the database are blocking: keep the hub's event loop free.
            signed = await asyncio.to_thread(
                signin.check, self._database(), username, password, data.get("otp"),
                require_staff_totp=self.require_staff_totp,
                source=(source_address(handler.request, self._trusted_networks)
                        if handler is not None else None),
            )
        except signin.SignInRefused as exc:
            self.log.info("sign-in refused for %r: %s", username[:32], exc)
            raise web.HTTPError(403, str(exc)) from None
        except (DatabaseError, OperationalError) as exc:  # database or PgBouncer away: say so, keep the hub up
            self.log.warning("sign-in of %r not checked: %s", username[:32], exc)
            raise web.HTTPError(503, UNAVAILABLE) from None
        groups = [role_group(signed.role.value)]
        if signed.customer_id is not None:
            groups.append(customer_group(signed.customer_id))
        return {
            "name": signed.username,
            "admin": signed.role.value in ADMIN_ROLES,
            "groups": groups,
            "auth_state": {"role": signed.role.value, "customer_id": signed.customer_id},
        }


def own_proxy_sources(settings: Settings) -> list[str]:
    """Where the hub's own proxy connects from, besides loopback (always trusted): the hub's
    own address when its API listens on a machine address (``hub_api_bind``), since a
    connection to a local address comes from that address. Without this, every sign-in
    through the proxy would count against the proxy's address and lock everyone out."""
    import ipaddress

    try:
        own = ipaddress.ip_address(settings.hub_local_ip)
    except ValueError:  # a host name: the operator lists it in hub_trusted_proxies
        return []
    return [] if own.is_loopback else [str(own)]


def source_address(request: HTTPServerRequest, trusted: tuple[Network, ...]) -> str | None:
    """The address a sign-in is counted against (``reprotech_core.client_address``).

    Not ``request.remote_ip``: the hub's tornado server runs with ``xheaders=True``, which lets
    a client set it with ``X-Real-Ip``. The socket peer is ``context.address``, which tornado
    leaves as accepted (``address[0]`` for TCP; a Unix socket has no address).
    """
    context = request.connection.context
    peer = (context.address[0] if context.address_family in (socket.AF_INET, socket.AF_INET6)
            else None)
    return client_address(peer, request.headers.get_list("X-Forwarded-For"), trusted)


class ReprotechOIDCAuthenticator(GenericOAuthenticator):
    """Production sign-in through OIDC, kept consistent with the platform users table.

    The identity provider authenticates and says the role (`reprotech-role-<role>` in its
    groups claim); the platform database must know the user, active, with that same role.
    The hub groups are then the database's role and customer, so a customer user can only ever
    carry their own customer.
    """

    async def get_user_groups(self, auth_state: dict) -> set[str]:
        from reprotech_core.errors import NotFound, PermissionDenied

        claimed = {g for g in await super().get_user_groups(auth_state)
                   if g.startswith(ROLE_PREFIX)}
        username = self.user_info_to_username(auth_state.get(self.user_auth_state_key) or {})
        try:
            identity = await asyncio.to_thread(self._database().identity, username)
        except (NotFound, PermissionDenied):
            raise web.HTTPError(
                403, f"Account {username!r} is not active on the Reprotech platform; "
                "ask your administrator."
            ) from None
        if claimed != {role_group(identity.role)}:
            raise web.HTTPError(
                403, f"Your identity provider's role for {username!r} does not match the "
                "platform's; ask your administrator."
            )
        groups = {role_group(identity.role)}
        if identity.customer_id is not None:
            groups.add(customer_group(identity.customer_id))
        elif identity.role in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER):
            raise web.HTTPError(403, f"Account {username!r} belongs to no customer.")
        return groups

    def _database(self):  # noqa: ANN202
        from reprotech_core.db.session import get_database

        return get_database()


def configure_oidc(c: Config, settings: Settings) -> None:
    """Production sign-in through the identity provider, from the settings alone (the embedded
    hub's config and the Kubernetes chart's extraConfig both call this, so they cannot drift).
    The provider's groups claim must hold ``reprotech-role-<role>`` matching the user's role in
    the platform database; the callback is ``oidc_callback_url`` (``<public_url>/hub/...``)."""
    c.JupyterHub.authenticator_class = "hub.auth.ReprotechOIDCAuthenticator"
    c.GenericOAuthenticator.client_id = settings.hub_oidc_client_id
    if settings.hub_oidc_client_secret is not None:
        c.GenericOAuthenticator.client_secret = settings.hub_oidc_client_secret.get_secret_value()
    c.GenericOAuthenticator.authorize_url = settings.hub_oidc_authorize_url
    c.GenericOAuthenticator.token_url = settings.hub_oidc_token_url
    c.GenericOAuthenticator.userdata_url = settings.hub_oidc_userinfo_url
    c.GenericOAuthenticator.oauth_callback_url = settings.oidc_callback_url
    c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
    c.GenericOAuthenticator.username_claim = "preferred_username"
    c.GenericOAuthenticator.auth_state_groups_key = f"oauth_user.{settings.hub_oidc_groups_claim}"
    c.GenericOAuthenticator.allowed_groups = {role_group(role) for role in Role}
    c.GenericOAuthenticator.admin_groups = {role_group(role) for role in ADMIN_ROLES}
